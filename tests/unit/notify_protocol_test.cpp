#include "notify_protocol.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace carbon;
using namespace std::chrono_literals;

TEST_CASE("NOTIFY_SOCKET as a path or an abstract name is a target") {
    const auto path = parse_notify_socket("/run/systemd/notify");
    REQUIRE(path.target);
    CHECK_FALSE(path.target->abstract);
    CHECK(path.target->name == "/run/systemd/notify");
    CHECK(path.problem.empty());

    const auto abstract = parse_notify_socket("@/org/freedesktop/systemd1/notify/42");
    REQUIRE(abstract.target);
    CHECK(abstract.target->abstract);
    CHECK(abstract.target->name == "/org/freedesktop/systemd1/notify/42");
}

TEST_CASE("no NOTIFY_SOCKET means no service manager, which is not a problem") {
    const auto none = parse_notify_socket("");
    CHECK_FALSE(none.target);
    CHECK(none.problem.empty());
}

TEST_CASE("a NOTIFY_SOCKET the launcher cannot send to is a problem that names it") {
    const auto vsock = parse_notify_socket("vsock:2:1234");
    CHECK_FALSE(vsock.target);
    CHECK(vsock.problem.find("vsock:2:1234") != std::string::npos);
    CHECK_FALSE(parse_notify_socket("run/notify").target);
    CHECK_FALSE(parse_notify_socket("@").target);
    CHECK_FALSE(parse_notify_socket("@").problem.empty());
}

TEST_CASE("a NOTIFY_SOCKET name fits an AF_UNIX address or is refused") {
    const std::string longest = "/" + std::string(kMaxNotifyNameBytes - 1, 'n');
    CHECK(parse_notify_socket(longest).target);
    CHECK(parse_notify_socket("@" + longest).target);
    const auto too_long = parse_notify_socket(longest + "n");
    CHECK_FALSE(too_long.target);
    CHECK(too_long.problem.find("longer than") != std::string::npos);
}

TEST_CASE("the watchdog period comes from WATCHDOG_USEC when WATCHDOG_PID is this process") {
    CHECK_FALSE(parse_watchdog(nullptr, nullptr, 42).period);
    CHECK(parse_watchdog("60000000", nullptr, 42).period == 60s);
    CHECK(parse_watchdog("400000", "42", 42).period == 400ms);
}

TEST_CASE("a watchdog meant for another process is not this one's") {
    const auto inherited = parse_watchdog("400000", "41", 42);
    CHECK_FALSE(inherited.period);
    CHECK(inherited.problem.empty());
}

TEST_CASE("watchdog variables that are not positive numbers are problems, not periods") {
    for (const char* usec : {"0", "-5", "abc", "", "12s", "99999999999999999999999"}) {
        CAPTURE(usec);
        const auto setting = parse_watchdog(usec, nullptr, 42);
        CHECK_FALSE(setting.period);
        CHECK(setting.problem.find("WATCHDOG_USEC") != std::string::npos);
    }
    const auto bad_pid = parse_watchdog("400000", "me", 42);
    CHECK_FALSE(bad_pid.period);
    CHECK(bad_pid.problem.find("WATCHDOG_PID=me") != std::string::npos);
}
