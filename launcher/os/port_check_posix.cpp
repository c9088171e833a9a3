#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "os/port_check.hpp"

namespace carbon {

bool port_in_use(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;  // cannot tell; the runtime will say so if it cannot bind
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(static_cast<unsigned short>(port));
    const bool in_use = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
                        errno == EADDRINUSE;
    ::close(fd);
    return in_use;
}

}  // namespace carbon
