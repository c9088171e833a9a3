#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "control_protocol.hpp"
#include "supervision/rotating_log_native.hpp"
#include "text_lines.hpp"

namespace carbon {

std::uintmax_t RotatingLog::Native::open(const std::filesystem::path& file) {
    // O_NONBLOCK: a FIFO put at the log's path would otherwise block the open (and the launcher)
    // until something reads it; only a regular file is kept.
    fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                0640);
    if (fd < 0 && errno == ENXIO) {  // a FIFO without a reader
        spdlog::error(
            "{} is a FIFO, not a log file: this instance's output is not kept; "
            "remove it and restart the instance",
            file.string());
        return 0;
    }
    struct stat info {};
    if (fd >= 0 && (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode))) {
        spdlog::error(
            "{} is not a regular file: this instance's output is not kept; remove it "
            "and restart the instance",
            file.string());
        close();
        return 0;
    }
    return fd >= 0 ? static_cast<std::uintmax_t>(info.st_size) : 0;
}

void RotatingLog::Native::close() {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

std::uintmax_t RotatingLog::Native::write(std::string_view bytes) {
    std::uintmax_t written = 0;
    while (fd >= 0 && !bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
        written += static_cast<std::uintmax_t>(n);
    }
    return written;
}

std::string tail_lines(const std::filesystem::path& file, int lines) {
    constexpr off_t kMaxTail = 1024 * 1024;
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || lines <= 0) {
        if (fd >= 0) {
            ::close(fd);
        }
        return "";
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        ::close(fd);
        throw ProtocolError("log-unreadable", file.string() +
                                                  " is not a regular file; remove it and restart "
                                                  "the instance to get a new log");
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
