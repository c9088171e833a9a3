#include <windows.h>

#include <cstdlib>
#include <system_error>

#include "os/state_lock.hpp"
#include "text_file.hpp"

namespace carbon {

// The lock is the open file itself: opened without FILE_SHARE_WRITE and kept open, so a second
// launcher's open fails until this process exits, however it exits. The pid goes into a
// neighbouring file, since the locked one cannot be read by the second launcher.
std::optional<int> lock_state_dir(const std::filesystem::path& state_dir) {
    std::filesystem::create_directories(state_dir);
    const auto lock_file = state_dir / "launcher.lock";
    const auto pid_file = state_dir / "launcher.pid";
    HANDLE lock = ::CreateFileW(lock_file.wstring().c_str(), GENERIC_WRITE, FILE_SHARE_READ,
                                nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (lock == INVALID_HANDLE_VALUE) {
        if (::GetLastError() == ERROR_SHARING_VIOLATION) {
            std::string error;
            return std::atoi(read_text_file(pid_file, error).value_or("0").c_str());
        }
        throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(),
                                "cannot open " + lock_file.string());
    }
    std::error_code ec;
    std::filesystem::remove(pid_file, ec);
    HANDLE pid = ::CreateFileW(pid_file.wstring().c_str(), GENERIC_WRITE, FILE_SHARE_READ, nullptr,
                               CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (pid != INVALID_HANDLE_VALUE) {
        const std::string text = std::to_string(::GetCurrentProcessId()) + "\n";
        DWORD written = 0;
        ::WriteFile(pid, text.data(), static_cast<DWORD>(text.size()), &written, nullptr);
        ::CloseHandle(pid);
    }
    return std::nullopt;  // `lock` stays open until the process exits
}

}  // namespace carbon
