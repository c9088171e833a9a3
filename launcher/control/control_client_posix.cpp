#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control/control_client.hpp"
#include "exit_codes.hpp"

namespace carbon {
namespace {

std::string group_of(const std::filesystem::path& socket) {
    struct stat st {};
    if (::stat(socket.c_str(), &st) != 0) {
        return "the socket's group";
    }
    const group* g = ::getgrgid(st.st_gid);
    return g != nullptr ? std::string(g->gr_name) : std::to_string(st.st_gid);
}

[[noreturn]] void refuse_permission_on(const std::filesystem::path& socket) {
    const std::string group = group_of(socket);
    throw ControlClientError(kExitNoPermission, "permission denied on " + socket.string() +
                                                    ": root and members of group " + group +
                                                    " may use it (usermod -aG " + group +
                                                    " $USER, then log in again)");
}

}  // namespace

struct ControlClient::Native {
    int fd = -1;

    ~Native() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

ControlClient::ControlClient(const std::filesystem::path& socket)
    : native_(std::make_unique<Native>()), socket_(socket) {
    int& fd = native_->fd;
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (fd < 0 || socket.string().size() >= sizeof address.sun_path) {
        throw ControlClientError(kExitUsage, "cannot use the socket path " + socket.string());
    }
    std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        const int error = errno;
        if (error == EACCES || error == EPERM) {
            refuse_permission_on(socket);
        }
        throw ControlClientError(kExitUnavailable,
                                 "no launcher is listening on " + socket.string() + " (" +
                                     std::strerror(error) +
                                     "): start it with `carbon-launcher run` (or `systemctl start "
                                     "carbon-launcher`), or pass --socket PATH");
    }
}

ControlClient::~ControlClient() = default;

void ControlClient::send(const nlohmann::json& message) {
    const std::string line = message.dump() + "\n";
    std::size_t sent = 0;
    while (sent < line.size()) {
        const ssize_t n = ::send(native_->fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw ControlConnectionClosed();
        }
        sent += static_cast<std::size_t>(n);
    }
}

bool ControlClient::read_more(std::chrono::milliseconds left) {
    for (;;) {
        pollfd wait{native_->fd, POLLIN, 0};
        const int ready = ::poll(&wait, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            return false;
        }
        char buffer[65536];
        const ssize_t n = ::read(native_->fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw ControlConnectionClosed();
        }
        input_.append(buffer, static_cast<std::size_t>(n));
        return true;
    }
}

void ControlClient::refuse_permission() const {
    refuse_permission_on(socket_);
}

}  // namespace carbon
