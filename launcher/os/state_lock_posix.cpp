#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "os/state_lock.hpp"
#include "text_file.hpp"

namespace carbon {

std::optional<int> lock_state_dir(const std::filesystem::path& state_dir) {
    std::filesystem::create_directories(state_dir);
    const auto lock_file = state_dir / "launcher.lock";
    const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(),
                                "cannot open " + lock_file.string());
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        std::string error;
        const std::string holder = read_text_file(lock_file, error).value_or("?");
        ::close(fd);
        return std::atoi(holder.c_str());
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        spdlog::warn("cannot write the pid into {}", lock_file.string());
    }
    return std::nullopt;  // the descriptor stays open, and the lock held, until the process exits
}

}  // namespace carbon
