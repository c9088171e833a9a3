#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace carbon {

/// Where systemd's notify protocol wants its datagrams: $NOTIFY_SOCKET, an AF_UNIX datagram
/// socket given either as a path or, with a leading '@', as a name in the abstract namespace.
///
/// The launcher speaks the protocol itself instead of linking libsystemd for sd_notify(): the
/// systemd project calls the protocol the stable interface and documents a reimplementation in
/// sd_notify(3) (Notes), and linking libsystemd for it alone maps libsystemd, liblzma, libzstd,
/// liblz4, libgcrypt and libcap into a daemon that runs as root (0.85 MiB of its own memory).
struct NotifyTarget {
    bool abstract = false;  // a name in the abstract namespace (no file), not a path
    std::string name;       // the path, or the abstract name without its '@'
};

/// The longest name an AF_UNIX address holds (sockaddr_un's sun_path, 108 bytes on Linux): one
/// byte goes to the path's terminating NUL, or to the abstract name's leading NUL.
inline constexpr std::size_t kMaxNotifyNameBytes = 107;

/// What $NOTIFY_SOCKET says. `problem` is set when it names nothing the launcher can send to:
/// too long for an AF_UNIX address, or another form (systemd 254's "vsock:" for VMs), which the
/// launcher does not speak; a warning then says that systemd will hear nothing.
struct NotifySocket {
    std::optional<NotifyTarget> target;
    std::string problem;
};
NotifySocket parse_notify_socket(std::string_view value);

/// The watchdog period systemd expects pings within, from $WATCHDOG_USEC and $WATCHDOG_PID, with
/// sd_watchdog_enabled()'s rules: no period when WATCHDOG_USEC is absent, or when WATCHDOG_PID
/// names another process (the variables were inherited, not meant for this one); `problem` when
/// either is not a positive number.
struct WatchdogSetting {
    std::optional<std::chrono::microseconds> period;
    std::string problem;
};
WatchdogSetting parse_watchdog(const char* watchdog_usec, const char* watchdog_pid, long own_pid);

}  // namespace carbon
