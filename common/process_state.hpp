#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "profile.hpp"

namespace carbon {

/// Where a supervised instance is, in the vocabulary of supervisord that operators know.
enum class ProcessState { Stopped, Starting, Running, Backoff, Stopping, Exited, Fatal };

/// Why the instance left its last live state; kept beside the state.
enum class ExitReason {
    None,
    ExitCode,
    Signal,
    SpawnFailed,
    StartTimeout,
    StopTimeout,
    PortConflict,
    RetriesExhausted,
    RestartRequested,
};

std::string to_string(ProcessState state);
std::string to_string(ExitReason reason);

/// How a process ended, decoded from a wait status.
struct ExitStatus {
    bool signaled = false;
    int value = 0;  // exit code, or signal number when signaled

    static ExitStatus from_wait_status(int status);
    std::string describe() const;  // "exit code 1", "signal 9 (SIGKILL)"
};

/// Exit code 121 of a WSO2 runtime means "restart me", not a failure.
inline constexpr int kRestartRequestExitCode = 121;

/// What to do after an instance's main process ended without being asked to stop.
struct RestartDecision {
    enum class Action { RestartNow, RestartAfter, GiveUp, StayExited } action = Action::StayExited;
    std::chrono::milliseconds delay{0};
    ExitReason reason = ExitReason::None;
    int failures = 0;  // the failure count after this exit
};

/// `failures` counts failed runs in a row; it starts again when the instance was ready for at
/// least `reset_after_s`. `jitter` in [0, 1) spreads restarts of instances that failed together.
RestartDecision decide_after_exit(const RestartSettings& settings, const ExitStatus& status,
                                  bool start_timed_out, int failures,
                                  std::optional<std::chrono::milliseconds> ready_for,
                                  double jitter);

/// The delay before restart number `failures` (1-based): geometric, capped, with up to +/-10%
/// jitter so that instances that crashed together do not restart in lock step.
std::chrono::milliseconds backoff_delay(const RestartSettings& settings, int failures,
                                        double jitter);

/// True for an exit caused by our own stop request (SIGTERM/SIGKILL, or a JVM's 143 after it).
bool is_expected_stop_exit(const ExitStatus& status);

}  // namespace carbon
