#include <windows.h>

#include "os/paths.hpp"
#include "os/windows_text.hpp"

namespace carbon {
namespace {

std::filesystem::path program_data() {
    const std::wstring dir = environment_variable(L"ProgramData");
    return std::filesystem::path(dir.empty() ? L"C:\\ProgramData" : dir) / "carbon-launcher";
}

}  // namespace

std::filesystem::path executable_path() {
    std::wstring path(32768, L'\0');
    const DWORD length =
        ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    path.resize(length);
    return path;
}

std::filesystem::path default_profiles_dir() {
    return program_data() / "profiles";
}

std::filesystem::path default_state_dir() {
    return program_data() / "state";
}

std::filesystem::path default_socket_path(SocketRole /*role*/) {
    return "\\\\.\\pipe\\carbon-launcher";
}

}  // namespace carbon
