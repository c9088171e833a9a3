// The per-instance log on Windows: opened for appending and shared for reading, writing and
// deleting, so `logs` and an operator's editor can read it and a rotation can rename it while
// another reader holds it open.
#include <windows.h>

#include "rotating_log.hpp"
#include "text_lines.hpp"

namespace carbon {
namespace {

HANDLE handle_of(std::intptr_t fd) {
    return reinterpret_cast<HANDLE>(fd);
}

}  // namespace

RotatingLog::RotatingLog(std::filesystem::path file, std::uintmax_t max_bytes, int max_files)
    : file_(std::move(file)), max_bytes_(max_bytes), max_files_(max_files) {
    std::filesystem::create_directories(file_.parent_path());
    open();
}

RotatingLog::~RotatingLog() {
    if (fd_ >= 0) {
        ::CloseHandle(handle_of(fd_));
    }
}

void RotatingLog::open() {
    HANDLE file = ::CreateFileW(file_.wstring().c_str(), FILE_APPEND_DATA,
                                FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    fd_ = file == INVALID_HANDLE_VALUE
              ? -1
              : static_cast<std::intptr_t>(reinterpret_cast<std::uintptr_t>(file));
    std::error_code ec;
    size_ = fd_ >= 0 ? std::filesystem::file_size(file_, ec) : 0;
}

void RotatingLog::rotate() {
    if (fd_ >= 0) {
        ::CloseHandle(handle_of(fd_));
        fd_ = -1;
    }
    shift_rotated_files(file_, max_files_);
    open();
}

void RotatingLog::write(std::string_view bytes) {
    if (size_ > 0 && size_ + bytes.size() > max_bytes_) {
        rotate();
    }
    if (fd_ < 0) {
        return;  // the log dir vanished: keep supervising, lose only the output
    }
    DWORD written = 0;
    if (::WriteFile(handle_of(fd_), bytes.data(), static_cast<DWORD>(bytes.size()), &written,
                    nullptr)) {
        size_ += written;
    }
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
