#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "process_state.hpp"

namespace carbon {

/// The one timer an instance owns. Its meaning follows the state: a start deadline while
/// Starting, the retry delay while in Backoff, the kill deadline while Stopping.
enum class Deadline { None, Start, Backoff, Stop };

std::string to_string(Deadline deadline);

/// What the OS shell (launcher/supervised_process) must do after an event, in this order:
/// spawn, signal the group, (re)arm or drop the timer, then report the new state.
struct Actions {
    bool spawn = false;         // start a run now, then report spawned() or spawn_failed()
    bool request_stop = false;  // the graceful stop: SIGTERM to the group, CTRL_C on Windows
    bool kill = false;          // the forced stop: SIGKILL, TerminateJobObject
    /// Before the stop or the kill: a thread dump of the JVM (bounded in time), so that a hung
    /// JVM leaves evidence of what it was doing.
    bool thread_dump_first = false;
    /// The timer after this event: armed for `timer_after` when it changed, else dropped.
    bool timer_changed = false;
    Deadline timer = Deadline::None;
    std::chrono::milliseconds timer_after{0};
    std::uint64_t timer_token = 0;  // hand it back with deadline_expired()
    /// Set when the state changed: the shell logs "name: From -> To (why)" and tells the
    /// supervisor, posted on the loop, never called back re-entrantly.
    bool state_changed = false;
    ProcessState from = ProcessState::Stopped;
    ProcessState to = ProcessState::Stopped;
    std::string why;
    /// Set instead of state_changed when an event keeps the state (a retry that failed before
    /// any process existed stays in Backoff): logged as a note, never as a self-edge. With
    /// `spawn`, why the next run starts at once (a restart request).
    std::string note;
};

/// The settings of one instance that the state machine needs, typed when profiles load.
struct MachineSettings {
    RestartSettings restart;
    std::chrono::milliseconds start_timeout{300000};
    std::chrono::milliseconds stop_timeout{60000};
    bool exit_status_masked = false;  // the start script exits 0 whatever its JVM did
    std::string script_name = "the start script";
};

/// One supervised instance's state machine, without processes, sockets or clocks: the shell
/// feeds it events with the time they happened and carries out the Actions it returns. Every
/// edge goes through one transition function that sets the state, keeps the first failure's
/// reason, owns the timer the new state needs and reports the change.
///
/// Hidden sub-states are named: `Stopping` is either a stop somebody asked for, a restart
/// (`StopCause::Restart`), a start deadline that passed, or a script that ended on its own while
/// the rest of its group (the JVM) is being drained, or a liveness probe that kept failing.
class InstanceMachine {
  public:
    using Clock = std::chrono::steady_clock;
    enum class StopCause { None, Requested, Restart, StartTimeout, ScriptGone, LivenessFailed };

    explicit InstanceMachine(MachineSettings settings, std::uint32_t seed = std::random_device{}());

    // From the operator and the supervisor.
    Actions start();
    Actions stop();
    Actions restart();

    // From the shell.
    Actions spawned(const std::string& how, Clock::time_point now);
    Actions spawn_failed(ExitReason reason, const std::string& why);
    Actions became_ready(const std::string& how, Clock::time_point now);
    /// Its liveness probe failed failure_threshold times in a row: dump, stop, then as a failure.
    Actions liveness_failed(const std::string& why);
    /// The start script ended; `group_alive` when other members (the JVM) are still there.
    Actions main_exited(ExitStatus status, bool group_alive, std::optional<int> jvm_pid);
    /// The whole group is gone (after main_exited): the run is over, decide what comes next.
    Actions group_drained(Clock::time_point now);
    /// A timer fired; one whose token is not the current one is stale and ignored.
    Actions deadline_expired(std::uint64_t token);

    ProcessState state() const { return state_; }
    ExitReason reason() const { return reason_; }
    const std::string& last_error() const { return last_error_; }
    bool wants_up() const { return want_up_; }
    bool ever_started() const { return ever_started_; }
    /// A process of this run may still exist (spawned and not yet drained).
    bool group_live() const { return group_live_; }
    int restarts() const { return restarts_; }
    int failures() const { return failures_; }
    Deadline armed() const { return armed_; }
    StopCause stop_cause() const { return stop_cause_; }
    long long stop_timeout_seconds() const {
        return std::chrono::duration_cast<std::chrono::seconds>(settings_.stop_timeout).count();
    }
    /// Stopping because the run failed (start timeout, script gone, liveness), not on request.
    bool stopped_by_failure() const;
    std::optional<Clock::time_point> ready_at() const { return ready_at_; }
    std::uint64_t run() const { return run_; }

  private:
    void transition(Actions& actions, ProcessState to, const std::string& why);
    void fail(ExitReason reason, const std::string& error);
    Actions enter_starting();
    void enter_stopping(Actions& actions, StopCause cause, const std::string& why);
    void enter_backoff(Actions& actions, std::chrono::milliseconds delay, const std::string& why);
    void decide_after_run(Actions& actions, const RunEnding& ending);
    std::string describe_exit(ExitStatus status, std::optional<int> jvm_pid) const;
    double jitter();

    MachineSettings settings_;
    // Only the backoff jitter draws from it: an 8-byte engine, not mt19937's 5 KiB of state in
    // every instance (the daemon's memory per instance).
    std::minstd_rand random_;

    ProcessState state_ = ProcessState::Stopped;
    ExitReason reason_ = ExitReason::None;
    std::string last_error_;
    bool want_up_ = false;
    bool ever_started_ = false;
    bool group_live_ = false;
    bool main_exited_ = false;
    StopCause stop_cause_ = StopCause::None;
    bool forced_ = false;  // this run's stop timed out and its group was killed
    ExitStatus exit_status_;
    int failures_ = 0;
    int restarts_ = 0;
    std::uint64_t run_ = 0;
    Deadline armed_ = Deadline::None;
    std::uint64_t timer_token_ = 0;
    std::optional<Clock::time_point> ready_at_;
};

}  // namespace carbon
