#include "proc_net_tcp.hpp"

#include <sstream>

namespace carbon {

std::vector<ListeningSocket> parse_proc_net_tcp(const std::string& text) {
    std::vector<ListeningSocket> sockets;
    std::istringstream lines(text);
    std::string line;
    std::getline(lines, line);  // header
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
        std::uint64_t inode = 0;
        if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
              timeout >> inode)) {
            continue;
        }
        const auto colon = local.rfind(':');
        if (state != "0A" || colon == std::string::npos) {
            continue;
        }
        try {
            sockets.push_back({std::stoi(local.substr(colon + 1), nullptr, 16), inode});
        } catch (const std::exception&) {
            continue;  // a malformed line is skipped, not fatal
        }
    }
    return sockets;
}

std::uint64_t socket_inode_from_link(const std::string& target) {
    constexpr std::string_view prefix = "socket:[";
    if (target.size() <= prefix.size() + 1 || target.compare(0, prefix.size(), prefix) != 0 ||
        target.back() != ']') {
        return 0;
    }
    try {
        return std::stoull(target.substr(prefix.size(), target.size() - prefix.size() - 1));
    } catch (const std::exception&) {
        return 0;
    }
}

}  // namespace carbon
