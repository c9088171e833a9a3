// The per-instance log on Windows: opened for appending and shared for reading, writing and
// deleting, so `logs` and an operator's editor can read it and a rotation can rename it while
// another reader holds it open.
#include <windows.h>

#include "supervision/rotating_log_native.hpp"
#include "text_lines.hpp"

namespace carbon {
std::uintmax_t RotatingLog::Native::open(const std::filesystem::path& file) {
    HANDLE opened = ::CreateFileW(file.wstring().c_str(), FILE_APPEND_DATA,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                  OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (opened == INVALID_HANDLE_VALUE) {
        return 0;
    }
    handle = opened;
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(file, ec);
    return ec ? 0 : size;
}

void RotatingLog::Native::close() {
    if (handle != nullptr) {
        ::CloseHandle(handle);
        handle = nullptr;
    }
}

std::uintmax_t RotatingLog::Native::write(std::string_view bytes) {
    DWORD written = 0;
    if (handle == nullptr ||
        !::WriteFile(handle, bytes.data(), static_cast<DWORD>(bytes.size()), &written, nullptr)) {
        return 0;
    }
    return written;
}

std::string tail_lines(const std::filesystem::path& file, int lines) {
    constexpr std::uintmax_t kMaxTail = 1024 * 1024;
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(file, ec);
    if (ec || lines <= 0) {
        return "";
    }
    HANDLE handle = ::CreateFileW(file.wstring().c_str(), GENERIC_READ,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                  OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (handle == INVALID_HANDLE_VALUE) {
        return "";
    }
    const std::uintmax_t start = size > kMaxTail ? size - kMaxTail : 0;
    LARGE_INTEGER position{};
    position.QuadPart = static_cast<LONGLONG>(start);
    ::SetFilePointerEx(handle, position, nullptr, FILE_BEGIN);
    std::string text(static_cast<std::size_t>(size - start), '\0');
    DWORD got = 0;
    ::ReadFile(handle, text.data(), static_cast<DWORD>(text.size()), &got, nullptr);
    ::CloseHandle(handle);
    text.resize(got);
    return last_lines(text, lines);
}

}  // namespace carbon
