#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "offset_planner.hpp"

namespace carbon {

/// The host's listening TCP ports (IPv4 and IPv6), read once when constructed. Holders are
/// looked up lazily, only for ports that end up in a conflict.
class HostPorts : public PortProbe {
  public:
    HostPorts();
    bool is_held(int port) const override;
    PortHolder holder(int port) const override;

  private:
    std::map<int, std::uint64_t> held_;  // listening port -> socket inode
    mutable std::optional<std::map<std::uint64_t, PortHolder>> owners_;  // inode -> holder
};

/// The host's ports without those that processes `is_ours` claims hold: a reload keeps the
/// running instances' ports theirs, and a `plan` beside the service does not count the service's
/// own JVMs as foreign holders.
class HostPortsExcept : public PortProbe {
  public:
    explicit HostPortsExcept(std::function<bool(int pid)> is_ours);
    bool is_held(int port) const override;
    PortHolder holder(int port) const override { return host_.holder(port); }

  private:
    bool ours(int pid) const;

    HostPorts host_;
    std::function<bool(int)> is_ours_;
    mutable std::map<int, bool> answers_;  // one JVM holds a dozen ports: ask once per pid
};

}  // namespace carbon
