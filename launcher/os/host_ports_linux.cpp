#include <unistd.h>

#include <filesystem>

#include "os/host_ports.hpp"
#include "proc_net_tcp.hpp"
#include "text_file.hpp"

namespace carbon {

HostPorts::HostPorts() {
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::string error;
        const auto text = read_text_file(table, error);
        if (!text) {
            continue;  // no IPv6 on this host
        }
        for (const auto& socket : parse_proc_net_tcp(*text)) {
            held_[socket.port] = socket.inode;
        }
    }
}

bool HostPorts::is_held(int port) const {
    return held_.count(port) != 0;
}

static std::map<std::uint64_t, PortHolder> scan_socket_owners() {
    std::map<std::uint64_t, PortHolder> owners;
    std::error_code ec;
    for (const auto& process : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string pid_text = process.path().filename().string();
        if (pid_text.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::error_code fd_ec;
        for (const auto& fd : std::filesystem::directory_iterator(process.path() / "fd", fd_ec)) {
            std::error_code link_ec;
            const auto target = std::filesystem::read_symlink(fd.path(), link_ec);
            const std::uint64_t inode = link_ec ? 0 : socket_inode_from_link(target.string());
            if (inode == 0 || owners.count(inode)) {
                continue;
            }
            std::string error;
            std::string program = read_text_file(process.path() / "comm", error).value_or("?");
            while (!program.empty() && program.back() == '\n') {
                program.pop_back();
            }
            owners[inode] = PortHolder{std::stoi(pid_text), program};
        }
    }
    return owners;
}

PortHolder HostPorts::holder(int port) const {
    if (!is_held(port)) {
        return {};
    }
    if (!owners_) {
        owners_ = scan_socket_owners();
    }
    const auto it = owners_->find(held_.at(port));
    return it == owners_->end() ? PortHolder{} : it->second;
}

}  // namespace carbon
