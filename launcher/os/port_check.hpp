#pragma once

namespace carbon {

/// True when something listens on `port` (any address): a bind to 0.0.0.0 with SO_REUSEADDR
/// fails only for a listener, not for connections in TIME_WAIT. Microseconds, against
/// milliseconds for reading /proc/net/tcp, so it runs before every spawn; /proc is read only to
/// name the holder.
bool port_in_use(int port);

}  // namespace carbon
