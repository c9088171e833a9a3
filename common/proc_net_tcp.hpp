#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace carbon {

struct ListeningSocket {
    int port = 0;
    std::uint64_t inode = 0;
};

/// The listening sockets (state 0A) in the text of /proc/net/tcp or /proc/net/tcp6.
std::vector<ListeningSocket> parse_proc_net_tcp(const std::string& text);

/// The inode in a /proc/PID/fd link target "socket:[12345]", or 0.
std::uint64_t socket_inode_from_link(const std::string& target);

}  // namespace carbon
