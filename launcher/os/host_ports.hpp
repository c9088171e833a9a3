#pragma once

#include <cstdint>
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

}  // namespace carbon
