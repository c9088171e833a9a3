#include <doctest/doctest.h>

#include "proc_net_tcp.hpp"

using namespace carbon;

TEST_CASE("listening sockets are read from /proc/net/tcp text") {
    const std::string text =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:24E3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
        "0 4711 1 0\n"
        "   1: 0100007F:24E3 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        "
        "0 0 1 0\n"
        "   2: garbage\n";
    const auto sockets = parse_proc_net_tcp(text);
    REQUIRE(sockets.size() == 1);
    CHECK(sockets[0].port == 9443);
    CHECK(sockets[0].inode == 4711);
}

TEST_CASE("socket inodes come from fd link targets") {
    CHECK(socket_inode_from_link("socket:[12345]") == 12345);
    CHECK(socket_inode_from_link("pipe:[12345]") == 0);
    CHECK(socket_inode_from_link("socket:[]") == 0);
}
