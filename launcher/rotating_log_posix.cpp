#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "rotating_log.hpp"

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
    std::error_code ec;
    const auto numbered = [&](int n) {
        return std::filesystem::path(file_.string() + "." + std::to_string(n));
    };
    std::filesystem::remove(numbered(max_files_ - 1), ec);
    for (int n = max_files_ - 2; n >= 1; --n) {
        std::filesystem::rename(numbered(n), numbered(n + 1), ec);
    }
    if (max_files_ > 1) {
        std::filesystem::rename(file_, numbered(1), ec);
    } else {
        std::filesystem::remove(file_, ec);
    }
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

}  // namespace carbon
