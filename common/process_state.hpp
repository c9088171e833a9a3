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
    LivenessFailed,  // its liveness probe failed failure_threshold times in a row
};

std::string to_string(ProcessState state);

/// Starting, Running or Stopping: a run is in progress.
bool is_live(ProcessState state);
std::string to_string(ExitReason reason);

/// How a process ended (decoded from a POSIX wait status by launcher/os/wait_status.hpp, or
/// from a Windows exit code).
struct ExitStatus {
    bool signaled = false;
    int value = 0;  // exit code, or signal number when signaled

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

/// How one run of an instance ended, as the restart rules need it.
struct RunEnding {
    ExitStatus status;
    bool start_timed_out = false;
    /// How long it had been ready; nullopt when it never became ready (an exit while Starting).
    std::optional<std::chrono::milliseconds> ready_for;
    /// The start script exits 0 whatever its JVM did (WSO2's .sh scripts, DOMAIN.md §3), so its
    /// exit status says nothing: an exit that nobody requested is a failure whatever its code.
    bool exit_status_masked = false;
    bool liveness_failed = false;  // stopped by the launcher because its liveness probe failed
};

/// True when this ending counts as a failure for `on-failure` and the retry budget: a start
/// timeout, an exit before the instance was ready, a signal, a non-zero code, or any exit of a
/// script whose status is masked. Exit 121 of an unmasked script is a restart request instead.
bool is_failure(const RunEnding& ending);

/// `failures` counts failed runs in a row; it starts again when the instance was ready for at
/// least `reset_after_s`. `jitter` in [0, 1) spreads restarts of instances that failed together.
RestartDecision decide_after_exit(const RestartSettings& settings, const RunEnding& ending,
                                  int failures, double jitter);

/// The delay before restart number `failures` (1-based): geometric, capped, with up to +/-10%
/// jitter so that instances that crashed together do not restart in lock step.
std::chrono::milliseconds backoff_delay(const RestartSettings& settings, int failures,
                                        double jitter);

/// True for an exit caused by our own stop request (SIGTERM/SIGKILL, or a JVM's 143 after it).
bool is_expected_stop_exit(const ExitStatus& status);

}  // namespace carbon
