#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "os/host_ports.hpp"

using namespace carbon;

TEST_CASE("the host probe sees a socket this test listens on, and names this process") {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // the kernel picks a free port
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    const int port = ntohs(address.sin_port);

    const HostPorts host;
    CHECK(host.is_held(port));
    const PortHolder holder = host.holder(port);
    REQUIRE(holder.pid.has_value());
    CHECK(*holder.pid == ::getpid());
    ::close(fd);

    const HostPorts after_close;
    CHECK_FALSE(after_close.is_held(port));
}
