// systemd's notify protocol, spoken directly (see common/notify_protocol.hpp for why not through
// libsystemd): one AF_UNIX datagram per message to $NOTIFY_SOCKET, as sd_notify() sends it.
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "notify_protocol.hpp"
#include "os/service_notifier.hpp"

namespace carbon {
namespace {

/// One datagram to `target`, from a socket made for it (as sd_notify() does: systemd learns the
/// sender's pid from the socket's credentials, and NotifyAccess=main accepts only the main pid).
/// A blocking send, also like sd_notify(): systemd reads its socket at once, and a READY=1
/// dropped because its queue was full would leave `systemctl start` waiting.
bool send_datagram(const NotifyTarget& target, const std::string& message) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // The abstract name starts with a NUL and is not NUL-terminated; the path is.
    char* name = address.sun_path + (target.abstract ? 1 : 0);
    std::memcpy(name, target.name.data(), target.name.size());
    const auto length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + target.name.size());
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    const ssize_t sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&address), length);
    const int send_errno = errno;
    ::close(fd);
    errno = send_errno;
    return sent == static_cast<ssize_t>(message.size());
}

}  // namespace

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io) : watchdog_timer_(io) {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    NotifySocket parsed = parse_notify_socket(socket == nullptr ? "" : socket);
    if (!parsed.problem.empty()) {
        spdlog::warn("{}: systemd will not hear that the launcher is ready", parsed.problem);
    }
    target_ = std::move(parsed.target);
    active_ = target_.has_value();
    const WatchdogSetting watchdog =
        parse_watchdog(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
    if (!watchdog.problem.empty()) {
        spdlog::warn("{}: no watchdog pings", watchdog.problem);
    }
    if (active_ && watchdog.period) {
        // Ping at half the period, as systemd recommends: one late tick is not a restart.
        watchdog_interval_ = *watchdog.period / 2;
        spdlog::info("systemd watchdog: pinging every {} ms", watchdog_interval_.count() / 1000);
        schedule_watchdog();
    }
}

void ServiceNotifier::notify(const std::string& message) {
    if (active_ && !send_datagram(*target_, message)) {
        spdlog::warn("notify {} to systemd failed: {}", message, std::strerror(errno));
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
