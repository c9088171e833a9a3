#include "os/host_ports.hpp"

namespace carbon {

HostPortsExcept::HostPortsExcept(std::function<bool(int pid)> is_ours)
    : is_ours_(std::move(is_ours)) {}

bool HostPortsExcept::is_held(int port) const {
    if (!host_.is_held(port)) {
        return false;
    }
    const auto holder = host_.holder(port);
    return !(holder.pid && ours(*holder.pid));
}

bool HostPortsExcept::ours(int pid) const {
    auto known = answers_.find(pid);
    if (known == answers_.end()) {
        known = answers_.emplace(pid, is_ours_(pid)).first;
    }
    return known->second;
}

}  // namespace carbon
