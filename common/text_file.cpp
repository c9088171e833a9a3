#include "text_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace carbon {

#ifndef _WIN32
namespace {

std::string not_a_file(mode_t mode) {
    if (S_ISDIR(mode)) {
        return "is a directory, expected a file";
    }
    const char* kind = S_ISFIFO(mode)   ? "a FIFO"
                       : S_ISSOCK(mode) ? "a socket"
                       : S_ISCHR(mode)  ? "a character device"
                       : S_ISBLK(mode)  ? "a block device"
                                        : "not a regular file";
    return std::string("is ") + kind + ", expected a regular file; remove it or point at a file";
}

}  // namespace

std::optional<std::string> read_text_file(const std::filesystem::path& path, std::string& error) {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever, and with it the
    // launcher. What was opened is checked with fstat, so nothing can be swapped in between.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        error = errno == ENOENT ? "file not found"
                                : std::string("cannot be read: ") + std::strerror(errno);
        return std::nullopt;
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        error = not_a_file(info.st_mode);
        ::close(fd);
        return std::nullopt;
    }
    std::string text;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error = std::string("read failed part way: ") + std::strerror(errno);
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) {
            break;
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

#else

std::optional<std::string> read_text_file(const std::filesystem::path& path, std::string& error) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
        error = "file not found";
        return std::nullopt;
    }
    if (std::filesystem::is_directory(status)) {
        error = "is a directory, expected a file";
        return std::nullopt;
    }
    if (!std::filesystem::is_regular_file(status)) {
        error = "is not a regular file; remove it or point at a file";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = std::string("cannot be read: ") + std::strerror(errno);
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        error = "read failed part way";
        return std::nullopt;
    }
    return text.str();
}

#endif

}  // namespace carbon
