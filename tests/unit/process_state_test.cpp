#include <doctest/doctest.h>

#include <csignal>

#include "process_state.hpp"

using namespace carbon;
using std::chrono::milliseconds;
using Action = RestartDecision::Action;

// POSIX signal numbers, spelled out: the Windows build of these tests has no SIGKILL.
constexpr int kSigKill = 9, kSigSegv = 11, kSigTerm = 15;

namespace {

ExitStatus exited(int code) {
    return {false, code};
}

}  // namespace

#ifndef _WIN32  // a wait status is a POSIX encoding
TEST_CASE("wait statuses decode into exit codes and signals") {
    CHECK(ExitStatus::from_wait_status(3 << 8).describe() == "exit code 3");
    const ExitStatus killed = ExitStatus::from_wait_status(SIGKILL);
    CHECK(killed.signaled);
    CHECK(killed.describe() == "signal 9 (SIGKILL)");
}
#endif

TEST_CASE("exit code 121 restarts at once and is not a failure") {
    const auto d = decide_after_exit(RestartSettings{}, exited(121), false, 2, std::nullopt, 0.5);
    CHECK(d.action == Action::RestartNow);
    CHECK(d.reason == ExitReason::RestartRequested);
    CHECK(d.failures == 2);
}

TEST_CASE("transition Exited -> Backoff: on-failure restarts a crash with a growing delay") {
    RestartSettings settings;  // 1000 ms, cap 60000, 5 retries
    const auto first = decide_after_exit(settings, exited(1), false, 0, std::nullopt, 0.5);
    CHECK(first.action == Action::RestartAfter);
    CHECK(first.delay == milliseconds(1000));
    const auto third = decide_after_exit(settings, exited(1), false, 2, std::nullopt, 0.5);
    CHECK(third.delay == milliseconds(4000));
    CHECK(third.failures == 3);
}

TEST_CASE("transition Backoff -> Fatal: retries spent") {
    RestartSettings settings;
    settings.max_retries = 2;
    const auto d = decide_after_exit(settings, exited(1), false, 2, std::nullopt, 0.5);
    CHECK(d.action == Action::GiveUp);
    CHECK(d.failures == 3);
}

TEST_CASE("a clean exit stays Exited under on-failure and restarts under always") {
    RestartSettings settings;
    CHECK(decide_after_exit(settings, exited(0), false, 0, std::nullopt, 0.5).action ==
          Action::StayExited);
    settings.policy = "always";
    CHECK(decide_after_exit(settings, exited(0), false, 0, std::nullopt, 0.5).action ==
          Action::RestartAfter);
    settings.policy = "never";
    CHECK(decide_after_exit(settings, exited(1), false, 0, std::nullopt, 0.5).action ==
          Action::StayExited);
}

TEST_CASE("a start timeout is a failure with its own reason") {
    const auto d =
        decide_after_exit(RestartSettings{}, {true, kSigKill}, true, 0, std::nullopt, 0.5);
    CHECK(d.action == Action::RestartAfter);
    CHECK(d.reason == ExitReason::StartTimeout);
}

TEST_CASE("the failure count starts again after a long healthy run") {
    RestartSettings settings;
    settings.max_retries = 1;
    const auto d = decide_after_exit(settings, exited(1), false, 1, milliseconds(120000), 0.5);
    CHECK(d.action == Action::RestartAfter);
    CHECK(d.failures == 1);
}

TEST_CASE("backoff is capped and jitter stays within 10%") {
    RestartSettings settings;
    settings.delay_ms = 1000;
    settings.max_delay_ms = 5000;
    CHECK(backoff_delay(settings, 10, 0.5) == milliseconds(5000));
    CHECK(backoff_delay(settings, 1, 0.0) == milliseconds(900));
    CHECK(backoff_delay(settings, 1, 0.999) >= milliseconds(1099));
    CHECK(backoff_delay(settings, 10, 1.0) == milliseconds(5000));
}

TEST_CASE("our own stop's exits are expected, a crash is not") {
    CHECK(is_expected_stop_exit({true, kSigTerm}));
    CHECK(is_expected_stop_exit(exited(143)));
    CHECK_FALSE(is_expected_stop_exit(exited(1)));
    CHECK_FALSE(is_expected_stop_exit({true, kSigSegv}));
}
