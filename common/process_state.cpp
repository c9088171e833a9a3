#include "process_state.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>

namespace carbon {

bool is_live(ProcessState state) {
    return state == ProcessState::Starting || state == ProcessState::Running ||
           state == ProcessState::Stopping;
}

std::string to_string(ProcessState state) {
    switch (state) {
        case ProcessState::Stopped:
            return "Stopped";
        case ProcessState::Starting:
            return "Starting";
        case ProcessState::Running:
            return "Running";
        case ProcessState::Backoff:
            return "Backoff";
        case ProcessState::Stopping:
            return "Stopping";
        case ProcessState::Exited:
            return "Exited";
        case ProcessState::Fatal:
            return "Fatal";
    }
    return "?";
}

std::string to_string(ExitReason reason) {
    switch (reason) {
        case ExitReason::None:
            return "none";
        case ExitReason::ExitCode:
            return "exit-code";
        case ExitReason::Signal:
            return "signal";
        case ExitReason::SpawnFailed:
            return "spawn-failed";
        case ExitReason::StartTimeout:
            return "start-timeout";
        case ExitReason::StopTimeout:
            return "stop-timeout";
        case ExitReason::PortConflict:
            return "port-conflict";
        case ExitReason::RetriesExhausted:
            return "retries-exhausted";
        case ExitReason::RestartRequested:
            return "restart-requested";
        case ExitReason::LivenessFailed:
            return "liveness-failed";
    }
    return "?";
}

std::string ExitStatus::describe() const {
    if (!signaled) {
        return "exit code " + std::to_string(value);
    }
#ifdef _WIN32
    const char* name = nullptr;  // Windows has no signals; a status is never `signaled` there
#else
    const char* name = sigabbrev_np(value);
#endif
    return "signal " + std::to_string(value) +
           (name != nullptr ? std::string(" (SIG") + name + ")" : "");
}

bool is_expected_stop_exit(const ExitStatus& status) {
    // POSIX numbers (the same on every Linux); Windows reports a JVM's CTRL_C exit as 130 too.
    constexpr int kSigInt = 2, kSigKill = 9, kSigTerm = 15;
    constexpr int kWindowsControlCExit = static_cast<int>(0xC000013AU);  // STATUS_CONTROL_C_EXIT
    if (status.signaled) {
        return status.value == kSigTerm || status.value == kSigKill || status.value == kSigInt;
    }
    return status.value == 0 || status.value == 128 + kSigTerm || status.value == 128 + kSigInt ||
           status.value == kWindowsControlCExit;
}

std::chrono::milliseconds backoff_delay(const RestartSettings& settings, int failures,
                                        double jitter) {
    const int doublings = std::clamp(failures - 1, 0, 30);
    const double base = std::min<double>(
        settings.max_delay_ms, static_cast<double>(settings.delay_ms) * std::pow(2.0, doublings));
    const double spread = 1.0 + 0.2 * (std::clamp(jitter, 0.0, 1.0) - 0.5);  // 0.9 .. 1.1
    const double delay = std::min<double>(settings.max_delay_ms, base * spread);
    return std::chrono::milliseconds(static_cast<long long>(delay));
}

bool is_failure(const RunEnding& ending) {
    return ending.start_timed_out || ending.liveness_failed || !ending.ready_for ||
           ending.exit_status_masked || ending.status.signaled || ending.status.value != 0;
}

RestartDecision decide_after_exit(const RestartSettings& settings, const RunEnding& ending,
                                  int failures, double jitter) {
    const ExitStatus& status = ending.status;
    RestartDecision decision;
    decision.reason = ending.start_timed_out   ? ExitReason::StartTimeout
                      : ending.liveness_failed ? ExitReason::LivenessFailed
                      : status.signaled        ? ExitReason::Signal
                                               : ExitReason::ExitCode;
    // A masked script never reports 121: its own loop restarts the JVM on it.
    if (!ending.start_timed_out && !ending.liveness_failed && !ending.exit_status_masked &&
        !status.signaled && status.value == kRestartRequestExitCode) {
        decision.action = RestartDecision::Action::RestartNow;  // asked for, not a failure
        decision.reason = ExitReason::RestartRequested;
        decision.failures = failures;
        return decision;
    }
    if (ending.ready_for && *ending.ready_for >= std::chrono::seconds(settings.reset_after_s)) {
        failures = 0;  // it ran well for a while: this is a new incident, not a crash loop
    }
    const bool failed = is_failure(ending);
    const bool restart = settings.policy == RestartPolicy::Always ||
                         (settings.policy == RestartPolicy::OnFailure && failed);
    if (!restart) {
        decision.action = RestartDecision::Action::StayExited;
        decision.failures = failures;
        return decision;
    }
    decision.failures = failures + 1;
    if (decision.failures > settings.max_retries) {
        decision.action = RestartDecision::Action::GiveUp;
        return decision;
    }
    decision.action = RestartDecision::Action::RestartAfter;
    decision.delay = backoff_delay(settings, decision.failures, jitter);
    return decision;
}

}  // namespace carbon
