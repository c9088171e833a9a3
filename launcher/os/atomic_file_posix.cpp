#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "os/atomic_file.hpp"

namespace carbon {
namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path.string());
}

void write_all(int fd, const std::string& content, const std::filesystem::path& temp) {
    std::size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail("cannot write", temp);
        }
        written += static_cast<std::size_t>(n);
    }
}

void fsync_directory(const std::filesystem::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fail("cannot open directory", dir);
    }
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) {
        fail("cannot fsync directory", dir);
    }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, const std::string& content,
                           const std::filesystem::path& like, Durability durability) {
    const bool sync = durability == Durability::PowerLoss;
    const std::filesystem::path& mode_source = like.empty() ? path : like;
    const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
    std::string temp = (dir / (atomic_temp_prefix(path) + "XXXXXX")).string();
    const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0) {
        fail("cannot create a temp file in", dir);
    }
    try {
        struct stat original {};
        if (::stat(mode_source.c_str(), &original) == 0) {
            if (::fchmod(fd, original.st_mode & 07777) != 0) {
                fail("cannot set the mode of", temp);
            }
            // Keep the owner so the runtime's user can still read its file; only root may
            // give a file away, and for anyone else the temp file already has their uid.
            if (::geteuid() == 0 && ::fchown(fd, original.st_uid, original.st_gid) != 0) {
                fail("cannot set the owner of", temp);
            }
        }
        write_all(fd, content, temp);
        if (sync && ::fsync(fd) != 0) {
            fail("cannot fsync", temp);
        }
        if (::close(fd) != 0) {
            fail("cannot close", temp);
        }
    } catch (...) {
        ::close(fd);
        ::unlink(temp.c_str());
        throw;
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int saved = errno;
        ::unlink(temp.c_str());
        errno = saved;
        fail("cannot rename a temp file over", path);
    }
    if (sync) {
        fsync_directory(dir);
    }
}

}  // namespace carbon
