// The notify protocol against a real AF_UNIX datagram socket that stands in for systemd's
// (tests/systemd runs the shipped unit under systemd itself).
#include "os/service_notifier.hpp"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "test_support.hpp"

using namespace carbon;

namespace {

/// Sets an environment variable for one test, and puts the previous value back.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
        if (const char* old = std::getenv(name)) {
            old_ = old;
        }
        set(value);
    }
    ~ScopedEnv() { set(old_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    void set(const std::optional<std::string>& value) const {
        if (value) {
            ::setenv(name_, value->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    const char* name_;
    std::optional<std::string> old_;
};

/// systemd's end: a datagram socket bound at a path, or at an abstract name ('@' first).
class FakeManager {
  public:
    explicit FakeManager(const std::string& address) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un un{};
        un.sun_family = AF_UNIX;
        std::memcpy(un.sun_path, address.data(), address.size());
        if (address.front() == '@') {
            un.sun_path[0] = '\0';
        }
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                                   address.size() + (address[0] == '@' ? 0 : 1));
        REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&un), length) == 0);
    }
    ~FakeManager() { ::close(fd_); }
    FakeManager(const FakeManager&) = delete;
    FakeManager& operator=(const FakeManager&) = delete;

    /// The next datagram, or "" when none comes within 5 s.
    std::string next() const {
        pollfd ready{fd_, POLLIN, 0};
        if (::poll(&ready, 1, 5000) != 1) {
            return "";
        }
        char buffer[512];
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
    }

  private:
    int fd_ = -1;
};

std::string unique_abstract_name() {
    static int count = 0;
    return "@carbon-launcher-test/notify/" + std::to_string(::getpid()) + "/" +
           std::to_string(++count);
}

}  // namespace

TEST_CASE("notifications reach a NOTIFY_SOCKET given as a path") {
    const test::TempDir dir;
    const std::string path = (dir / "notify").string();
    const FakeManager manager(path);
    const ScopedEnv socket("NOTIFY_SOCKET", path);
    const ScopedEnv watchdog("WATCHDOG_USEC", std::nullopt);
    boost::asio::io_context io;
    ServiceNotifier notifier(io);
    CHECK(notifier.active());
    notifier.ready();
    CHECK(manager.next() == "READY=1");
    notifier.status("2/2 ready");
    notifier.status("2/2 ready");  // unchanged: not sent again
    notifier.stopping();
    CHECK(manager.next() == "STATUS=2/2 ready");
    CHECK(manager.next() == "STOPPING=1");
}

TEST_CASE("notifications reach a NOTIFY_SOCKET in the abstract namespace") {
    const std::string name = unique_abstract_name();
    const FakeManager manager(name);
    const ScopedEnv socket("NOTIFY_SOCKET", name);
    const ScopedEnv watchdog("WATCHDOG_USEC", std::nullopt);
    boost::asio::io_context io;
    ServiceNotifier notifier(io);
    notifier.reloading();
    CHECK(manager.next() == "RELOADING=1");
}

TEST_CASE("the watchdog pings at half its period from a timer on the event loop") {
    const std::string name = unique_abstract_name();
    const FakeManager manager(name);
    const ScopedEnv socket("NOTIFY_SOCKET", name);
    const ScopedEnv watchdog("WATCHDOG_USEC", "40000");
    const ScopedEnv watchdog_pid("WATCHDOG_PID", std::to_string(::getpid()));
    boost::asio::io_context io;
    ServiceNotifier notifier(io);
    CHECK(io.run_one_for(std::chrono::seconds(5)) == 1);  // the timer's one event
    CHECK(manager.next() == "WATCHDOG=1");
}

TEST_CASE("without NOTIFY_SOCKET, or with one it cannot use, the notifier stays silent") {
    const ScopedEnv watchdog("WATCHDOG_USEC", "40000");
    {
        const ScopedEnv socket("NOTIFY_SOCKET", std::nullopt);
        boost::asio::io_context io;
        ServiceNotifier notifier(io);
        CHECK_FALSE(notifier.active());
        // No watchdog timer armed for nobody: with no work, the loop returns at once.
        CHECK(io.run_one_for(std::chrono::seconds(5)) == 0);
    }
    {
        const ScopedEnv socket("NOTIFY_SOCKET", "vsock:2:9");
        boost::asio::io_context io;
        ServiceNotifier notifier(io);
        CHECK_FALSE(notifier.active());
        notifier.ready();  // nothing to send to, and nothing thrown
    }
}
