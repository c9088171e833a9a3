// port_in_use on Windows: from the TCP table, as HostPorts reads it.
#include "os/host_ports.hpp"
#include "os/port_check.hpp"

namespace carbon {

// A bind probe would be wrong here: Windows lets a wildcard bind succeed beside a listener on
// 127.0.0.1. The table is exact, and cheap enough to read before each spawn.
bool port_in_use(int port) {
    return HostPorts().is_held(port);
}

}  // namespace carbon
