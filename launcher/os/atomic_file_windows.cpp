// Atomic replace on Windows: write a temp file beside the target, flush it to disk, then
// MoveFileEx with REPLACE_EXISTING and WRITE_THROUGH, which NTFS performs as one rename.
// Permissions are the directory's inherited ACL, as for any file the runtime itself writes.
#include <windows.h>

#include <atomic>
#include <system_error>

#include "os/atomic_file.hpp"
#include "os/windows_text.hpp"

namespace carbon {
namespace {

[[noreturn]] void fail(DWORD error, const std::string& what, const std::filesystem::path& path) {
    throw std::system_error(static_cast<int>(error), std::system_category(),
                            what + " " + path.string());
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, const std::string& content,
                           const std::filesystem::path&, Durability durability) {
    static std::atomic<unsigned> serial{0};
    const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
    const std::filesystem::path temp =
        dir / (atomic_temp_prefix(path) + std::to_string(::GetCurrentProcessId()) + "-" +
               std::to_string(++serial));
    HANDLE file = ::CreateFileW(temp.wstring().c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW,
                                FILE_ATTRIBUTE_NORMAL, nullptr);
    if (file == INVALID_HANDLE_VALUE) {
        fail(::GetLastError(), "cannot create a temp file in", dir);
    }
    std::size_t written = 0;
    DWORD error = 0;
    while (written < content.size() && error == 0) {
        DWORD chunk = 0;
        const auto want =
            static_cast<DWORD>(std::min<std::size_t>(content.size() - written, 1 << 20));
        if (!::WriteFile(file, content.data() + written, want, &chunk, nullptr)) {
            error = ::GetLastError();
        }
        written += chunk;
    }
    if (error == 0 && durability == Durability::PowerLoss && !::FlushFileBuffers(file)) {
        error = ::GetLastError();
    }
    ::CloseHandle(file);
    if (error == 0 && !::MoveFileExW(temp.wstring().c_str(), path.wstring().c_str(),
                                     MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        error = ::GetLastError();
    }
    if (error != 0) {
        ::DeleteFileW(temp.wstring().c_str());
        fail(error, "cannot replace", path);
    }
}

}  // namespace carbon
