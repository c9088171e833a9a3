#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>

#include "os/service_notifier.hpp"

namespace carbon {

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io) : watchdog_timer_(io) {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    active_ = socket != nullptr && *socket != '\0';
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        // Ping at half the period, as systemd recommends: one late tick is not a restart.
        watchdog_interval_ = std::chrono::microseconds(usec / 2);
        spdlog::info("systemd watchdog: pinging every {} ms", watchdog_interval_.count() / 1000);
        schedule_watchdog();
    }
}

void ServiceNotifier::notify(const std::string& message) {
    if (active_ && sd_notify(0, message.c_str()) < 0) {
        spdlog::warn("sd_notify({}) failed", message);
    }
}

void ServiceNotifier::schedule_watchdog() {
    watchdog_timer_.expires_after(watchdog_interval_);
    watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) {
            return;
        }
        notify("WATCHDOG=1");
        schedule_watchdog();
    });
}

void ServiceNotifier::ready() {
    notify("READY=1");
}

void ServiceNotifier::reloading() {
    notify("RELOADING=1");
}

void ServiceNotifier::stopping() {
    notify("STOPPING=1");
}

void ServiceNotifier::status(const std::string& text) {
    if (text != last_status_) {
        last_status_ = text;
        notify("STATUS=" + text);
    }
}

void ServiceNotifier::extend_timeout(std::chrono::microseconds extra) {
    notify("EXTEND_TIMEOUT_USEC=" + std::to_string(extra.count()));
}

}  // namespace carbon
