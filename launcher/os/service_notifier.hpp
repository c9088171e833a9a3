#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "notify_protocol.hpp"

namespace carbon {

/// Tells the service manager how the launcher is doing: systemd's notify protocol on Linux (a
/// no-op when NOTIFY_SOCKET is not set or names no socket the launcher can send to). Watchdog pings
/// come from a timer on the event loop, so a loop that is stuck stops pinging and systemd restarts
/// the launcher.
class ServiceNotifier {
  public:
    explicit ServiceNotifier(boost::asio::io_context& io);

    bool active() const { return active_; }
    void ready();
    void reloading();
    void stopping();
    void status(const std::string& text);
    /// Asks for `extra` more time in the current start or stop job (slow JVMs, not a hang).
    void extend_timeout(std::chrono::microseconds extra);

  private:
    void schedule_watchdog();
    void notify(const std::string& message);

    boost::asio::steady_timer watchdog_timer_;
    std::chrono::microseconds watchdog_interval_{0};
    bool active_ = false;
    std::optional<NotifyTarget> target_;  // Linux: where $NOTIFY_SOCKET points
    std::string last_status_;
};

}  // namespace carbon
