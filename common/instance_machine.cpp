#include "instance_machine.hpp"

#include <algorithm>

namespace carbon {

using std::chrono::milliseconds;

std::string to_string(Deadline deadline) {
    switch (deadline) {
        case Deadline::None:
            return "none";
        case Deadline::Start:
            return "start";
        case Deadline::Backoff:
            return "backoff";
        case Deadline::Stop:
            return "stop";
    }
    return "?";
}

namespace {

/// The timer each state owns; a state not listed owns none.
Deadline timer_of(ProcessState state) {
    switch (state) {
        case ProcessState::Starting:
            return Deadline::Start;
        case ProcessState::Backoff:
            return Deadline::Backoff;
        case ProcessState::Stopping:
            return Deadline::Stop;
        default:
            return Deadline::None;
    }
}

}  // namespace

InstanceMachine::InstanceMachine(MachineSettings settings, std::uint32_t seed)
    : settings_(std::move(settings)), random_(seed) {}

double InstanceMachine::jitter() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
}

// The one place a state changes. The new state's timer is armed here (or dropped, when the new
// state owns none) before the change is reported, so nothing the supervisor does on hearing of
// it can be overwritten by this edge afterwards.
void InstanceMachine::transition(Actions& actions, ProcessState to, const std::string& why) {
    actions.state_changed = to != state_;
    actions.from = state_;
    actions.to = to;
    actions.why = why;
    if (!actions.state_changed) {
        actions.note = why;
    }
    state_ = to;
    const Deadline owned = timer_of(to);
    actions.timer_changed = true;
    actions.timer = owned;
    ++timer_token_;
    actions.timer_token = timer_token_;
    armed_ = owned;
    switch (owned) {
        case Deadline::Start:
            actions.timer_after = settings_.start_timeout;
            break;
        case Deadline::Stop:
            actions.timer_after = settings_.stop_timeout;
            break;
        default:
            break;  // Backoff: the delay is set by enter_backoff
    }
}

// Keeps the first failure's reason until the instance runs again, as systemd's
// service_enter_dead does: a kill after a start timeout is still a start timeout.
void InstanceMachine::fail(ExitReason reason, const std::string& error) {
    if (reason_ == ExitReason::None || reason_ == ExitReason::RestartRequested) {
        reason_ = reason;
    }
    last_error_ = error;
}

Actions InstanceMachine::start() {
    ever_started_ = true;
    want_up_ = true;  // a stop in progress turns into a restart once the group is gone
    if (state_ == ProcessState::Starting || state_ == ProcessState::Running ||
        state_ == ProcessState::Stopping || group_live_) {
        return {};
    }
    failures_ = 0;
    return enter_starting();
}

Actions InstanceMachine::stop() {
    want_up_ = false;
    Actions actions;
    switch (state_) {
        case ProcessState::Backoff:
            transition(actions, ProcessState::Stopped,
                       "stop requested during backoff");  // BACKOFF -> STOPPED
            break;
        case ProcessState::Starting:
        case ProcessState::Running:
            enter_stopping(actions, StopCause::Requested, "stop requested");
            break;
        default:
            break;  // Stopping already, or nothing runs
    }
    return actions;
}

Actions InstanceMachine::restart() {
    ever_started_ = true;
    want_up_ = true;
    if (state_ == ProcessState::Starting || state_ == ProcessState::Running) {
        Actions actions;
        enter_stopping(actions, StopCause::Restart, "restart requested");
        return actions;
    }
    if (state_ == ProcessState::Stopping) {
        stop_cause_ = StopCause::Restart;  // whatever it was stopping for, it starts again
        return {};
    }
    failures_ = 0;
    if (state_ == ProcessState::Backoff) {
        return enter_starting();
    }
    return start();
}

// The shell spawns (after its own checks: ports, the home's tmp folder) and reports back.
Actions InstanceMachine::enter_starting() {
    Actions actions;
    actions.spawn = true;
    return actions;
}

// (STOPPED|EXITED|FATAL|BACKOFF) -> STARTING
Actions InstanceMachine::spawned(const std::string& how, Clock::time_point) {
    ++run_;
    group_live_ = true;
    main_exited_ = false;
    stop_cause_ = StopCause::None;
    forced_ = false;
    ready_at_.reset();
    Actions actions;
    transition(actions, ProcessState::Starting, how);
    return actions;
}

// A start that failed before any process existed (a port held by another process, a home
// that refuses the start, a spawn error) follows the same restart rules as a run that failed.
Actions InstanceMachine::spawn_failed(ExitReason reason, const std::string& why) {
    // The reason shown through Starting is why the last run ended (a 121 restart, a crash); an
    // attempt that failed before it ran has its own, as systemd resets a result at each start.
    reason_ = ExitReason::None;
    fail(reason, why);
    Actions actions;
    if (settings_.restart.policy == RestartPolicy::Never) {
        transition(actions, ProcessState::Fatal, "gave up: " + why);
        return actions;
    }
    RestartSettings settings = settings_.restart;
    settings.policy = RestartPolicy::OnFailure;  // nothing ran: never a clean exit
    const RunEnding ending{{false, 1}, false, std::nullopt, false};
    const RestartDecision decision = decide_after_exit(settings, ending, failures_, jitter());
    failures_ = decision.failures;
    if (decision.action == RestartDecision::Action::GiveUp) {
        transition(actions, ProcessState::Fatal,
                   "gave up: " + why + " (" + std::to_string(failures_) + " failed start" +
                       (failures_ == 1 ? "" : "s") + ")");
        return actions;
    }
    enter_backoff(actions, decision.delay, to_string(reason) + ": " + why);
    return actions;
}

// STARTING -> RUNNING
Actions InstanceMachine::became_ready(const std::string& how, Clock::time_point now) {
    Actions actions;
    if (state_ != ProcessState::Starting) {
        return actions;
    }
    ready_at_ = now;
    transition(actions, ProcessState::Running, how);
    return actions;
}

// RUNNING -> STOPPING: a JVM that no longer answers is dumped, stopped and counted as a failure.
Actions InstanceMachine::liveness_failed(const std::string& why) {
    Actions actions;
    if (state_ != ProcessState::Running) {
        return actions;
    }
    fail(ExitReason::LivenessFailed, why);
    reason_ = ExitReason::LivenessFailed;
    enter_stopping(actions, StopCause::LivenessFailed, why);
    actions.thread_dump_first = true;
    return actions;
}

// A stop the launcher started because the run failed (not one somebody asked for): once the
// group is gone it is decided as a failure, and a kill keeps the first failure as the reason.
bool InstanceMachine::stopped_by_failure() const {
    return stop_cause_ == StopCause::StartTimeout || stop_cause_ == StopCause::ScriptGone ||
           stop_cause_ == StopCause::LivenessFailed;
}

// (STARTING|RUNNING) -> STOPPING
void InstanceMachine::enter_stopping(Actions& actions, StopCause cause, const std::string& why) {
    stop_cause_ = cause;
    actions.request_stop = true;
    transition(actions, ProcessState::Stopping, why);
}

// -> BACKOFF
void InstanceMachine::enter_backoff(Actions& actions, milliseconds delay, const std::string& why) {
    transition(actions, ProcessState::Backoff,
               why + "; next start in " + std::to_string(delay.count()) + " ms");
    actions.timer_after = delay;
}

std::string InstanceMachine::describe_exit(ExitStatus status, std::optional<int> jvm_pid) const {
    std::string text;
    if (settings_.exit_status_masked && !status.signaled && status.value == 0) {
        // WSO2's .sh scripts exit 0 whatever the JVM did: say so rather than "exit code 0".
        text = "the JVM" + (jvm_pid ? " (pid " + std::to_string(*jvm_pid) + ")" : "") + " ended; " +
               settings_.script_name + " exited 0 (WSO2's scripts always do)";
    } else {
        text = settings_.script_name + " ended: " + status.describe();
    }
    if (state_ == ProcessState::Starting) {
        text += ", before it was ready";
    }
    return text;
}

Actions InstanceMachine::main_exited(ExitStatus status, bool group_alive,
                                     std::optional<int> jvm_pid) {
    main_exited_ = true;
    exit_status_ = status;
    Actions actions;
    if (state_ != ProcessState::Starting && state_ != ProcessState::Running) {
        return actions;  // an exit we asked for: the group's draining decides
    }
    fail(status.signaled ? ExitReason::Signal : ExitReason::ExitCode,
         describe_exit(status, jvm_pid));
    if (group_alive) {
        // (STARTING|RUNNING) -> STOPPING: the script is gone, the JVM (or API-M's diagnostics
        // JVM) lives on; end it before anything is started again on the same ports.
        enter_stopping(actions, StopCause::ScriptGone,
                       last_error_ + "; stopping the rest of its group");
    }
    return actions;
}

Actions InstanceMachine::group_drained(Clock::time_point now) {
    group_live_ = false;
    Actions actions;
    const auto ready_for = ready_at_
                               ? std::optional<milliseconds>(
                                     std::chrono::duration_cast<milliseconds>(now - *ready_at_))
                               : std::nullopt;
    if (!want_up_) {
        // A forced stop says so: the script's own status (its SIGTERM, often) is not all of it.
        transition(actions, ProcessState::Stopped,
                   exit_status_.describe() +
                       (forced_ ? "; killed " + std::to_string(stop_timeout_seconds()) +
                                      " s after the stop request"
                                : ""));  // -> STOPPED
        return actions;
    }
    if (state_ == ProcessState::Stopping && !stopped_by_failure()) {
        // STOPPING -> STARTING: a restart (asked for, or a start during a stop), not a failure.
        ++restarts_;
        reason_ = ExitReason::RestartRequested;
        return enter_starting();
    }
    const RunEnding ending{.status = exit_status_,
                           .start_timed_out = stop_cause_ == StopCause::StartTimeout,
                           .ready_for = ready_for,
                           .exit_status_masked = settings_.exit_status_masked,
                           .liveness_failed = stop_cause_ == StopCause::LivenessFailed};
    decide_after_run(actions, ending);
    return actions;
}

void InstanceMachine::decide_after_run(Actions& actions, const RunEnding& ending) {
    const RestartDecision decision =
        decide_after_exit(settings_.restart, ending, failures_, jitter());
    failures_ = decision.failures;
    using Action = RestartDecision::Action;
    switch (decision.action) {
        case Action::RestartNow:  // -> STARTING: the runtime asked for it (121)
            ++restarts_;
            reason_ = ExitReason::RestartRequested;
            actions = enter_starting();
            actions.note = ending.status.describe() + " is a restart request";
            break;
        case Action::RestartAfter:  // -> BACKOFF
            ++restarts_;
            // max_retries counts retries, as supervisord's startretries: the first start is not
            // one, so Fatal comes with failure max_retries + 1.
            enter_backoff(actions, decision.delay,
                          last_error_ + ", retry " + std::to_string(failures_) + " of " +
                              std::to_string(settings_.restart.max_retries));
            break;
        case Action::GiveUp:  // -> FATAL
            transition(actions, ProcessState::Fatal,
                       "gave up: " + std::to_string(failures_) +
                           " failures in a row; last: " + last_error_);
            break;
        case Action::StayExited:  // -> EXITED
            transition(actions, ProcessState::Exited, last_error_);
            break;
    }
}

Actions InstanceMachine::deadline_expired(std::uint64_t token) {
    Actions actions;
    if (token != timer_token_ || armed_ == Deadline::None) {
        return actions;  // a completion queued before the timer was re-armed or dropped
    }
    const Deadline fired = armed_;
    armed_ = Deadline::None;
    switch (fired) {
        case Deadline::Start:  // STARTING -> STOPPING
            fail(ExitReason::StartTimeout,
                 "not ready within " +
                     std::to_string(
                         std::chrono::duration_cast<std::chrono::seconds>(settings_.start_timeout)
                             .count()) +
                     " s");
            reason_ = ExitReason::StartTimeout;
            enter_stopping(actions, StopCause::StartTimeout, last_error_);
            break;
        case Deadline::Backoff:  // BACKOFF -> STARTING
            actions = enter_starting();
            break;
        case Deadline::Stop:  // still STOPPING: force it; the group's draining ends the state
            if (!stopped_by_failure()) {
                fail(ExitReason::StopTimeout, "still running " +
                                                  std::to_string(stop_timeout_seconds()) +
                                                  " s after the stop request");
            }
            forced_ = true;
            actions.kill = true;
            actions.thread_dump_first = true;  // every forced kill leaves evidence
            break;
        case Deadline::None:
            break;
    }
    return actions;
}

}  // namespace carbon
