#include "notify_protocol.hpp"

#include <charconv>
#include <cstdint>

namespace carbon {
namespace {

template <typename Number>
std::optional<Number> positive_number(std::string_view text) {
    Number value{};
    const auto* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc{} || stop != end || value <= 0) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

NotifySocket parse_notify_socket(std::string_view value) {
    NotifySocket socket;
    if (value.empty()) {
        return socket;  // not under a service manager: nothing to send, nothing wrong
    }
    const bool abstract = value.front() == '@';
    if (!abstract && value.front() != '/') {
        socket.problem = "NOTIFY_SOCKET=" + std::string(value) +
                         " is neither a path nor an abstract socket name (@NAME); the launcher "
                         "speaks only those forms of systemd's notify protocol";
        return socket;
    }
    const std::string_view name = abstract ? value.substr(1) : value;
    if (name.empty() || name.size() > kMaxNotifyNameBytes) {
        socket.problem = "NOTIFY_SOCKET=" + std::string(value) + " is " +
                         (name.empty() ? "empty" : "longer than an AF_UNIX address holds");
        return socket;
    }
    socket.target = NotifyTarget{abstract, std::string(name)};
    return socket;
}

WatchdogSetting parse_watchdog(const char* watchdog_usec, const char* watchdog_pid, long own_pid) {
    WatchdogSetting setting;
    if (watchdog_usec == nullptr) {
        return setting;
    }
    if (watchdog_pid != nullptr) {
        const auto pid = positive_number<long>(watchdog_pid);
        if (!pid) {
            setting.problem = std::string("WATCHDOG_PID=") + watchdog_pid + " is not a pid";
            return setting;
        }
        if (*pid != own_pid) {
            return setting;  // meant for the process that started this one
        }
    }
    const auto usec = positive_number<std::int64_t>(watchdog_usec);
    if (!usec) {
        setting.problem =
            std::string("WATCHDOG_USEC=") + watchdog_usec + " is not a positive number of µs";
        return setting;
    }
    setting.period = std::chrono::microseconds(*usec);
    return setting;
}

}  // namespace carbon
