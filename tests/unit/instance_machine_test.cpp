// The supervised instance's state machine without processes, sockets or sleeps: events go in
// with a manual clock, Actions come out. Tests are named after the transition they cover, as
// supervisord's test_process.py does.
#include <doctest/doctest.h>

#include <random>

#include "instance_machine.hpp"

using namespace carbon;
using std::chrono::milliseconds;
using std::chrono::seconds;
using State = ProcessState;
using Cause = InstanceMachine::StopCause;

namespace {

constexpr int kSigKill = 9;

MachineSettings settings(bool masked = false) {
    MachineSettings s;
    s.restart.delay_ms = 100;
    s.restart.max_delay_ms = 1000;
    s.restart.max_retries = 2;
    s.start_timeout = seconds(30);
    s.stop_timeout = seconds(5);
    s.exit_status_masked = masked;
    s.script_name = "api-manager.sh";
    return s;
}

/// A manual clock: time moves only when a test says so.
struct ManualClock {
    InstanceMachine::Clock::time_point now{};
    void advance(milliseconds by) { now += by; }
};

/// Starts `m` and reports the spawn, as the shell does.
Actions start_and_spawn(InstanceMachine& m, ManualClock& clock) {
    REQUIRE(m.start().spawn);
    return m.spawned("pid 100", clock.now);
}

void make_running(InstanceMachine& m, ManualClock& clock) {
    start_and_spawn(m, clock);
    clock.advance(seconds(2));
    REQUIRE(m.became_ready("startup line", clock.now).to == State::Running);
}

}  // namespace

TEST_CASE("transition Stopped -> Starting arms the start deadline") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    const Actions spawn = m.start();
    CHECK(spawn.spawn);
    CHECK_FALSE(spawn.state_changed);  // nothing has happened until the shell reports the spawn
    const Actions a = m.spawned("pid 100", clock.now);
    CHECK(a.state_changed);
    CHECK(a.from == State::Stopped);
    CHECK(a.to == State::Starting);
    CHECK(a.timer == Deadline::Start);
    CHECK(a.timer_after == seconds(30));
    CHECK(m.armed() == Deadline::Start);
    CHECK(m.group_live());
}

TEST_CASE("transition Starting -> Running drops the start deadline") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    start_and_spawn(m, clock);
    const Actions a = m.became_ready("startup line", clock.now);
    CHECK(a.to == State::Running);
    CHECK(a.timer_changed);
    CHECK(a.timer == Deadline::None);
    CHECK(m.armed() == Deadline::None);
    CHECK(m.became_ready("again", clock.now).state_changed == false);
}

TEST_CASE("transition Starting -> Stopping -> Backoff: the start deadline passes") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    const Actions started = start_and_spawn(m, clock);
    const Actions timeout = m.deadline_expired(started.timer_token);
    CHECK(timeout.request_stop);
    CHECK(timeout.to == State::Stopping);
    CHECK(timeout.timer == Deadline::Stop);
    CHECK(m.reason() == ExitReason::StartTimeout);
    CHECK(m.main_exited({true, 15}, false, std::nullopt).state_changed == false);
    const Actions after = m.group_drained(clock.now);
    CHECK(after.to == State::Backoff);
    CHECK(after.timer == Deadline::Backoff);
    CHECK(m.reason() == ExitReason::StartTimeout);
    CHECK(m.failures() == 1);
}

TEST_CASE("transition Stopping: a kill after a start timeout keeps the start-timeout reason") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    const Actions started = start_and_spawn(m, clock);
    const Actions timeout = m.deadline_expired(started.timer_token);
    const Actions kill = m.deadline_expired(timeout.timer_token);
    CHECK(kill.kill);
    CHECK(m.reason() == ExitReason::StartTimeout);  // the first failure, not stop-timeout
    CHECK(m.last_error() == "not ready within 30 s");
}

TEST_CASE("transition Running -> Stopping -> Stopped: a requested stop") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    const Actions a = m.stop();
    CHECK(a.request_stop);
    CHECK(a.to == State::Stopping);
    CHECK(m.stop_cause() == Cause::Requested);
    m.main_exited({false, 143}, false, std::nullopt);
    const Actions done = m.group_drained(clock.now);
    CHECK(done.to == State::Stopped);
    CHECK(done.timer == Deadline::None);
    CHECK_FALSE(m.group_live());
}

TEST_CASE("transition Stopping: the stop deadline kills and reports stop-timeout") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    const Actions stopping = m.stop();
    const Actions kill = m.deadline_expired(stopping.timer_token);
    CHECK(kill.kill);
    CHECK_FALSE(kill.state_changed);
    CHECK(m.reason() == ExitReason::StopTimeout);
    // The script ended with its SIGTERM; the line says the group had to be killed.
    const ExitStatus sigterm{true, 15};  // described as "signal 15 (SIGTERM)" on Linux
    m.main_exited(sigterm, false, std::nullopt);
    const Actions stopped = m.group_drained(clock.now);
    CHECK(stopped.to == State::Stopped);
    CHECK(stopped.why == sigterm.describe() + "; killed 5 s after the stop request");
}

TEST_CASE("transition Stopping: a forced kill always asks for a thread dump first") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    const Actions stopping = m.stop();
    CHECK_FALSE(stopping.thread_dump_first);  // a requested stop is not evidence of a hang
    CHECK(m.deadline_expired(stopping.timer_token).thread_dump_first);
}

TEST_CASE(
    "transition Running -> Stopping -> Backoff: a failed liveness check dumps, stops, and "
    "counts as a failure") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    clock.advance(seconds(600));  // long after reset_after_s: a new incident, failure 1
    const Actions a = m.liveness_failed("GET /services/Version timed out 3 times in a row");
    CHECK(a.to == State::Stopping);
    CHECK(a.request_stop);
    CHECK(a.thread_dump_first);
    CHECK(a.timer == Deadline::Stop);
    CHECK(m.reason() == ExitReason::LivenessFailed);
    m.main_exited({true, 15}, false, std::nullopt);
    const Actions done = m.group_drained(clock.now);
    CHECK(done.to == State::Backoff);
    CHECK(m.failures() == 1);
    CHECK(m.reason() == ExitReason::LivenessFailed);
    CHECK(m.wants_up());
}

TEST_CASE("transition Stopping: the kill after a failed liveness check keeps liveness-failed") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    const Actions stopping = m.liveness_failed("no answer");
    CHECK(m.deadline_expired(stopping.timer_token).kill);
    CHECK(m.reason() == ExitReason::LivenessFailed);
}

TEST_CASE("a liveness failure outside Running changes nothing") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    start_and_spawn(m, clock);
    const Actions a = m.liveness_failed("no answer");
    CHECK_FALSE(a.state_changed);
    CHECK_FALSE(a.request_stop);
    CHECK(m.state() == State::Starting);
}

TEST_CASE("transition Running -> Backoff: an unmasked crash under on-failure") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    CHECK_FALSE(m.main_exited({false, 1}, false, std::nullopt).state_changed);
    const Actions a = m.group_drained(clock.now);
    CHECK(a.to == State::Backoff);
    CHECK(m.last_error() == "api-manager.sh ended: exit code 1");
    CHECK(m.restarts() == 1);
}

TEST_CASE("transition Running -> Backoff: a masked script's exit 0 names the JVM that ended") {
    InstanceMachine m(settings(true), 1);
    ManualClock clock;
    make_running(m, clock);
    m.main_exited({false, 0}, false, 4242);
    const Actions a = m.group_drained(clock.now);
    CHECK(a.to == State::Backoff);
    CHECK(m.last_error() ==
          "the JVM (pid 4242) ended; api-manager.sh exited 0 (WSO2's scripts always do)");
}

TEST_CASE("transition Running -> Exited: an unmasked clean exit under on-failure stays down") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    m.main_exited({false, 0}, false, std::nullopt);
    const Actions a = m.group_drained(clock.now);
    CHECK(a.to == State::Exited);
    CHECK(a.from == State::Running);  // never Exited -> Exited
}

TEST_CASE("transition Running -> Stopping: the script is gone, the rest of its group is drained") {
    InstanceMachine m(settings(true), 1);
    ManualClock clock;
    make_running(m, clock);
    const Actions a = m.main_exited({false, 0}, true, 77);
    CHECK(a.request_stop);
    CHECK(a.to == State::Stopping);
    CHECK(a.timer == Deadline::Stop);
    CHECK(m.stop_cause() == Cause::ScriptGone);
    const Actions after = m.group_drained(clock.now);
    CHECK(after.from == State::Stopping);
    CHECK(after.to == State::Backoff);  // a failure, not a requested restart
    CHECK(m.failures() == 1);
}

TEST_CASE("transition Starting -> Backoff: an exit before ready is a failed start, code 0 too") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    start_and_spawn(m, clock);
    m.main_exited({false, 0}, false, std::nullopt);
    CHECK(m.last_error() == "api-manager.sh ended: exit code 0, before it was ready");
    CHECK(m.group_drained(clock.now).to == State::Backoff);
}

TEST_CASE("transition Backoff -> Starting when the retry delay passes") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    m.main_exited({true, kSigKill}, false, std::nullopt);
    const Actions backoff = m.group_drained(clock.now);
    CHECK(m.deadline_expired(backoff.timer_token).spawn);
}

TEST_CASE("transition Backoff -> Fatal: retries spent") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    start_and_spawn(m, clock);
    for (int failure = 1; failure <= 2; ++failure) {
        m.main_exited({false, 1}, false, std::nullopt);
        const Actions backoff = m.group_drained(clock.now);
        REQUIRE(backoff.to == State::Backoff);
        // max_retries = 2 counts retries (supervisord's startretries), not starts.
        CHECK(backoff.why.find("retry " + std::to_string(failure) + " of 2") != std::string::npos);
        REQUIRE(m.deadline_expired(backoff.timer_token).spawn);
        m.spawned("pid", clock.now);
    }
    m.main_exited({false, 1}, false, std::nullopt);
    const Actions fatal = m.group_drained(clock.now);
    CHECK(fatal.to == State::Fatal);
    CHECK(fatal.why.find("3 failures in a row") != std::string::npos);
}

TEST_CASE("transition Backoff -> Stopped: a stop during backoff drops the retry") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    m.main_exited({false, 1}, false, std::nullopt);
    const Actions backoff = m.group_drained(clock.now);
    const Actions stopped = m.stop();
    CHECK(stopped.to == State::Stopped);
    CHECK(stopped.timer == Deadline::None);
    CHECK_FALSE(m.deadline_expired(backoff.timer_token).spawn);  // the stale retry is ignored
}

TEST_CASE("transition Running -> Stopping -> Starting: a restart is not a failure") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    CHECK(m.restart().to == State::Stopping);
    m.main_exited({false, 143}, false, std::nullopt);
    CHECK(m.group_drained(clock.now).spawn);
    CHECK(m.failures() == 0);
    CHECK(m.restarts() == 1);
}

TEST_CASE("transition Running -> Starting: exit 121 of a script that reports it restarts at once") {
    InstanceMachine m(settings(false), 1);
    ManualClock clock;
    make_running(m, clock);
    m.main_exited({false, 121}, false, std::nullopt);
    const Actions a = m.group_drained(clock.now);
    CHECK(a.spawn);
    CHECK(a.note == "exit code 121 is a restart request");
    CHECK(m.failures() == 0);
    CHECK(m.reason() == ExitReason::RestartRequested);
}

TEST_CASE("a start during a stop turns into a restart once the group is gone") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    make_running(m, clock);
    m.stop();
    CHECK_FALSE(m.start().spawn);
    m.main_exited({false, 143}, false, std::nullopt);
    CHECK(m.group_drained(clock.now).spawn);
}

TEST_CASE("a spawn that fails follows the same retry rules, then Fatal") {
    InstanceMachine m(settings(), 1);
    m.start();
    const Actions first = m.spawn_failed(ExitReason::PortConflict, "port 9443 is held by nc");
    CHECK(first.to == State::Backoff);
    CHECK(m.reason() == ExitReason::PortConflict);
    m.deadline_expired(first.timer_token);
    const Actions second = m.spawn_failed(ExitReason::PortConflict, "port 9443 is held by nc");
    m.deadline_expired(second.timer_token);
    const Actions third = m.spawn_failed(ExitReason::PortConflict, "port 9443 is held by nc");
    CHECK(third.to == State::Fatal);
    CHECK(third.why.find("3 failed starts") != std::string::npos);
}

// Regression (issue 15, bug 1): during a shutdown an instance that leaves Backoff is stopped by
// the supervisor as soon as it hears of Starting. The start deadline used to be armed after
// that notification and replaced the stop deadline: the SIGKILL came after ready.timeout_s with
// the wrong reason. Now the edge arms its timer before it is reported, the report is posted,
// and the stop that follows owns the timer.
TEST_CASE("regression: a stop right after Starting keeps the stop deadline, not the start one") {
    InstanceMachine m(settings(), 1);
    ManualClock clock;
    const Actions starting = start_and_spawn(m, clock);
    REQUIRE(starting.timer == Deadline::Start);
    const Actions stopping = m.stop();  // what the supervisor does on hearing of Starting
    CHECK(stopping.timer == Deadline::Stop);
    CHECK(stopping.timer_after == seconds(5));
    CHECK(m.armed() == Deadline::Stop);
    // The start deadline's completion, if already queued, is stale.
    CHECK_FALSE(m.deadline_expired(starting.timer_token).state_changed);
    CHECK(m.reason() != ExitReason::StartTimeout);
    const Actions kill = m.deadline_expired(stopping.timer_token);
    CHECK(kill.kill);
    CHECK(m.reason() == ExitReason::StopTimeout);
}

namespace {

/// A world for the property test: one group whose main process and members come and go only
/// in the orders a real OS allows.
struct World {
    bool spawned = false;  // a group exists
    bool main_alive = false;
    bool members_alive = false;
};

/// The timer each state owns; the machine must always agree.
Deadline owned_timer(State state) {
    switch (state) {
        case State::Starting:
            return Deadline::Start;
        case State::Backoff:
            return Deadline::Backoff;
        case State::Stopping:
            return Deadline::Stop;
        default:
            return Deadline::None;
    }
}

}  // namespace

// Random event sequences (exit, drain, timeouts, stop, start, restart, readiness, spawn
// failures) never leave a live group in a terminal state, never arm a timer the state does not
// own (so never two), and never report a self-edge.
TEST_CASE("property: random event sequences keep the state, the group and the timer consistent") {
    for (std::uint32_t seed = 1; seed <= 400; ++seed) {
        std::mt19937 random(seed);
        InstanceMachine m(settings(seed % 2 == 0), seed);
        ManualClock clock;
        World world;
        std::uint64_t token = 0;
        int pending_spawn = 0;
        bool pending_kill = false;
        const auto carry_out = [&](const Actions& a) {
            if (a.timer_changed) {
                token = a.timer_token;
            }
            if (a.state_changed) {
                CHECK_MESSAGE(a.from != a.to, "seed " << seed << ": self-edge " << to_string(a.to));
            }
            if (a.spawn) {
                ++pending_spawn;
            }
            pending_kill = pending_kill || a.kill;
        };
        for (int step = 0; step < 150; ++step) {
            clock.advance(milliseconds(random() % 5000));
            if (pending_kill) {  // SIGKILL to the group: everything in it ends
                pending_kill = false;
                if (world.main_alive) {
                    carry_out(m.main_exited({true, kSigKill}, false, std::nullopt));
                }
                if (world.spawned) {
                    world = {};
                    carry_out(m.group_drained(clock.now));
                }
                continue;
            }
            if (pending_spawn > 0) {  // the shell reports each spawn at once
                --pending_spawn;
                if (random() % 5 == 0) {
                    carry_out(m.spawn_failed(ExitReason::PortConflict, "held"));
                } else {
                    world = {true, true, true};
                    carry_out(m.spawned("pid", clock.now));
                }
                continue;
            }
            switch (random() % 10) {
                case 9:
                    carry_out(m.liveness_failed("no answer"));
                    break;
                case 0:
                    carry_out(m.start());
                    break;
                case 1:
                    carry_out(m.stop());
                    break;
                case 2:
                    carry_out(m.restart());
                    break;
                case 3:
                    if (world.spawned) {
                        carry_out(m.became_ready("line", clock.now));
                    }
                    break;
                case 4:
                case 5:
                    if (world.main_alive) {
                        world.main_alive = false;
                        world.members_alive = random() % 2 == 0;
                        carry_out(m.main_exited({false, static_cast<int>(random() % 3)},
                                                world.members_alive, std::nullopt));
                        if (!world.members_alive) {
                            world.spawned = false;
                            carry_out(m.group_drained(clock.now));
                        }
                    }
                    break;
                case 6:
                    if (world.spawned && !world.main_alive && world.members_alive) {
                        world = {};
                        carry_out(m.group_drained(clock.now));
                    }
                    break;
                default:
                    carry_out(m.deadline_expired(token));
                    break;
            }
            const State state = m.state();
            const bool terminal = state == State::Stopped || state == State::Exited ||
                                  state == State::Fatal || state == State::Backoff;
            CHECK_MESSAGE(!(terminal && world.spawned), "seed " << seed << " step " << step
                                                                << ": live group in "
                                                                << to_string(state));
            CHECK_MESSAGE(m.group_live() == world.spawned, "seed " << seed << " step " << step);
            if (pending_spawn == 0) {
                const bool owned = m.armed() == owned_timer(state) ||
                                   (state == State::Stopping && m.armed() == Deadline::None);
                CHECK_MESSAGE(owned, "seed " << seed << " step " << step << ": " << to_string(state)
                                             << " with timer " << to_string(m.armed()));
            }
        }
    }
}
