#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "rotating_log.hpp"
#include "text_lines.hpp"

namespace carbon {

RotatingLog::RotatingLog(std::filesystem::path file, std::uintmax_t max_bytes, int max_files)
    : file_(std::move(file)), max_bytes_(max_bytes), max_files_(max_files) {
    std::filesystem::create_directories(file_.parent_path());
    open();
}

RotatingLog::~RotatingLog() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

void RotatingLog::open() {
    fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    std::error_code ec;
    size_ = fd_ >= 0 ? std::filesystem::file_size(file_, ec) : 0;
}

void RotatingLog::rotate() {
    ::close(fd_);
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
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
        size_ += static_cast<std::uintmax_t>(n);
    }
}

std::string tail_lines(const std::filesystem::path& file, int lines) {
    constexpr off_t kMaxTail = 1024 * 1024;
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || lines <= 0) {
        if (fd >= 0) {
            ::close(fd);
        }
        return "";
    }
    const off_t size = ::lseek(fd, 0, SEEK_END);
    const off_t start = size > kMaxTail ? size - kMaxTail : 0;
    std::string text(static_cast<std::size_t>(size - start), '\0');
    const ssize_t got = ::pread(fd, text.data(), text.size(), start);
    ::close(fd);
    text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    return last_lines(text, lines);
}

}  // namespace carbon
