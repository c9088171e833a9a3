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

constexpr milliseconds kRanForAWhile{30000};  // below reset_after_s: still a crash loop

/// A run that had been ready for a while, from a script that reports its JVM's exit code.
RunEnding after_running(ExitStatus status) {
    return {status, false, kRanForAWhile, false};
}

/// The same run behind one of WSO2's .sh scripts, which exit 0 whatever the JVM did.
RunEnding masked_after_running(ExitStatus status) {
    return {status, false, kRanForAWhile, true};
}

}  // namespace

TEST_CASE("exit code 121 restarts at once and is not a failure") {
    const auto d = decide_after_exit(RestartSettings{}, after_running(exited(121)), 2, 0.5);
    CHECK(d.action == Action::RestartNow);
    CHECK(d.reason == ExitReason::RestartRequested);
    CHECK(d.failures == 2);
}

TEST_CASE("transition Exited -> Backoff: on-failure restarts a crash with a growing delay") {
    RestartSettings settings;  // 1000 ms, cap 60000, 5 retries
    const auto first = decide_after_exit(settings, after_running(exited(1)), 0, 0.5);
    CHECK(first.action == Action::RestartAfter);
    CHECK(first.delay == milliseconds(1000));
    const auto third = decide_after_exit(settings, after_running(exited(1)), 2, 0.5);
    CHECK(third.delay == milliseconds(4000));
    CHECK(third.failures == 3);
}

TEST_CASE("transition Backoff -> Fatal: retries spent") {
    RestartSettings settings;
    settings.max_retries = 2;
    const auto d = decide_after_exit(settings, after_running(exited(1)), 2, 0.5);
    CHECK(d.action == Action::GiveUp);
    CHECK(d.failures == 3);
}

TEST_CASE("a clean exit stays Exited under on-failure and restarts under always") {
    RestartSettings settings;
    CHECK(decide_after_exit(settings, after_running(exited(0)), 0, 0.5).action ==
          Action::StayExited);
    settings.policy = RestartPolicy::Always;
    CHECK(decide_after_exit(settings, after_running(exited(0)), 0, 0.5).action ==
          Action::RestartAfter);
    settings.policy = RestartPolicy::Never;
    CHECK(decide_after_exit(settings, after_running(exited(1)), 0, 0.5).action ==
          Action::StayExited);
}

TEST_CASE("a start timeout is a failure with its own reason") {
    const auto d =
        decide_after_exit(RestartSettings{}, {{true, kSigKill}, true, std::nullopt, false}, 0, 0.5);
    CHECK(d.action == Action::RestartAfter);
    CHECK(d.reason == ExitReason::StartTimeout);
}

TEST_CASE("the failure count starts again after a long healthy run") {
    RestartSettings settings;
    settings.max_retries = 1;
    const auto d =
        decide_after_exit(settings, {exited(1), false, milliseconds(120000), false}, 1, 0.5);
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

// WSO2's .sh scripts end with the java loop and nothing after it, so they exit 0 whether the JVM
// stopped cleanly, crashed, was OOM-killed or could not bind a port (DOMAIN.md §3).
TEST_CASE("transition Running -> Backoff: a masked script's exit 0 is a crash under on-failure") {
    RestartSettings settings;  // on-failure
    const auto d = decide_after_exit(settings, masked_after_running(exited(0)), 0, 0.5);
    CHECK(d.action == Action::RestartAfter);
    CHECK(d.failures == 1);
    CHECK(d.reason == ExitReason::ExitCode);
    CHECK(is_failure(masked_after_running(exited(0))));
}

TEST_CASE("a masked script's exits count against max_retries like any failure") {
    RestartSettings settings;
    settings.max_retries = 2;
    CHECK(decide_after_exit(settings, masked_after_running(exited(0)), 1, 0.5).action ==
          Action::RestartAfter);
    // failures reset after a long run, so a crash loop is exits within reset_after_s of start
    const RunEnding quick_crash{exited(0), false, milliseconds(500), true};
    CHECK(decide_after_exit(settings, quick_crash, 2, 0.5).action == Action::GiveUp);
}

TEST_CASE("a masked script never reports 121: its own loop handled it") {
    const auto d = decide_after_exit(RestartSettings{}, masked_after_running(exited(121)), 0, 0.5);
    CHECK(d.action == Action::RestartAfter);
    CHECK(d.reason == ExitReason::ExitCode);
}

TEST_CASE("policy never keeps a masked script's exit down; always restarts it") {
    RestartSettings settings;
    settings.policy = RestartPolicy::Never;
    CHECK(decide_after_exit(settings, masked_after_running(exited(0)), 0, 0.5).action ==
          Action::StayExited);
    settings.policy = RestartPolicy::Always;
    CHECK(decide_after_exit(settings, masked_after_running(exited(0)), 0, 0.5).action ==
          Action::RestartAfter);
}

TEST_CASE("transition Starting -> Backoff: an exit before ready is a failed start, even code 0") {
    const RunEnding never_ready{exited(0), false, std::nullopt, false};
    CHECK(is_failure(never_ready));
    const auto d = decide_after_exit(RestartSettings{}, never_ready, 0, 0.5);
    CHECK(d.action == Action::RestartAfter);
    CHECK(d.failures == 1);
}

TEST_CASE("an unmasked script's clean exit after running is not a failure") {
    CHECK_FALSE(is_failure(after_running(exited(0))));
    CHECK(is_failure(after_running(exited(1))));
    CHECK(is_failure(after_running({true, kSigKill})));
}
