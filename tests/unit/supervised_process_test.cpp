// The supervision core's OS shell (SupervisedProcess) without a single process: a fake RunHost
// hands out fake process groups whose "output" is a pipe the test writes into, exits are reported
// as the supervisor's reaper reports them, and the supervision clock moves only when a test says
// so. Tests are named after the transition they cover, as supervisord's test_process.py does;
// the pure rules behind them are in instance_machine_test.cpp.
#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <random>
#include <sstream>

#include "fake_run_host.hpp"
#include "supervision/supervised_process.hpp"
#include "test_support.hpp"

using namespace carbon;
using std::chrono::milliseconds;
using std::chrono::seconds;
using State = ProcessState;
using test::FakeHost;
using test::FakeRun;

namespace {

Profile api_manager_profile(const std::filesystem::path& home) {
    Profile profile;
    profile.name = "apim-1";
    profile.runtime = "api-manager";
    profile.source = "apim-1.json";
    profile.table = test::source_catalog().find("api-manager");
    REQUIRE(profile.table != nullptr);
    profile.home = home;
    profile.script = home / "bin" / "api-manager.sh";  // masks its JVM's exit status
    profile.ports = table_ports(*profile.table);
    for (auto& port : profile.ports) {
        port.ready_probe = false;  // readiness from the startup line only: no sockets here
    }
    profile.restart.delay_ms = 1000;
    profile.restart.max_delay_ms = 4000;
    profile.restart.max_retries = 2;
    profile.ready_timeout_s = 300;
    profile.stop_timeout_s = 60;
    return profile;
}

/// One instance on its own loop, with a fake host and a record of every reported state.
struct Bench {
    test::TempDir dir;
    boost::asio::io_context io;
    std::shared_ptr<FakeHost> host = std::make_shared<FakeHost>();
    std::vector<State> reported;
    std::function<void(SupervisedProcess&)> also_on_change;
    std::unique_ptr<SupervisedProcess> instance;

    Bench() {
        auto profile = std::make_shared<const Profile>(api_manager_profile(dir / "home"));
        instance = std::make_unique<SupervisedProcess>(
            io, profile, 0,
            InstancePaths{dir / "logs" / "apim-1.log", dir / "apim-1.json", dir / "dumps"}, host,
            [this](SupervisedProcess& changed) {
                reported.push_back(changed.state());
                if (also_on_change) {
                    also_on_change(changed);
                }
            });
    }
    ~Bench() {
        instance.reset();
        for (auto& run : host->runs) {
            run->close_output();
        }
        settle();
    }

    /// Runs whatever is ready now: posted reports, completed reads, expired timers.
    void settle() {
        for (int round = 0; round < 100 && io.poll() > 0; ++round) {
        }
        io.restart();
    }
    /// Moves the supervision clock on. A timer that expires before every other one makes the
    /// loop look at its timers again (Asio re-reads the clock when a new earliest timer is
    /// armed); the kernel's timer behind it fires a moment later, so the loop waits for that
    /// event, then runs whatever has become due.
    void advance(milliseconds by) {
        SupervisionClock::advance(by);
        SupervisionTimer nudge(io);
        bool looked = false;
        nudge.expires_at(SupervisionClock::time_point{});
        nudge.async_wait([&looked](const boost::system::error_code&) { looked = true; });
        for (int round = 0; round < 100 && !looked; ++round) {
            io.run_one_for(milliseconds(100));
        }
        REQUIRE(looked);
        settle();
    }
    FakeRun& run() { return *host->runs.back(); }
    State state() const { return instance->state(); }

    void start_running() {
        instance->start();
        settle();
        run().print("INFO - WSO2 Carbon started in 12 sec\n");
        settle();
        REQUIRE(state() == State::Running);
    }
    /// The start script ends (reaped by the supervisor); `jvm_left` keeps the rest of its group.
    void script_exits(ExitStatus status, bool jvm_left = false) {
        auto& current = run();
        current.alive = jvm_left;
        if (!jvm_left) {
            current.close_output();
        }
        CHECK(instance->on_child_reaped(current.pid, status));
        instance->check_group_drained();
        settle();
    }
    /// The last member of the group (the JVM) is gone.
    void group_drains() {
        run().alive = false;
        run().close_output();
        instance->check_group_drained();
        settle();
    }
};

/// "[carbon-launcher] Backoff -> Backoff (...)" lines of an instance's log.
std::vector<std::string> self_edges(const std::string& log) {
    std::vector<std::string> found;
    std::istringstream lines(log);
    const std::string marker = "[carbon-launcher] ";
    for (std::string line; std::getline(lines, line);) {
        const auto at = line.find(marker);
        const auto arrow = line.find(" -> ");
        if (at == std::string::npos || arrow == std::string::npos) {
            continue;
        }
        const std::string from = line.substr(at + marker.size(), arrow - at - marker.size());
        const std::string rest = line.substr(arrow + 4);
        if (rest.compare(0, from.size(), from) == 0 && rest.size() > from.size() &&
            rest[from.size()] == ' ') {
            found.push_back(line);
        }
    }
    return found;
}

constexpr ExitStatus kExit0{false, 0};
constexpr ExitStatus kSigterm{true, 15};

}  // namespace

TEST_CASE("shell Stopped -> Starting: the host spawns a group, a record is written, one report") {
    Bench b;
    b.instance->start();
    CHECK(b.state() == State::Starting);
    CHECK(b.reported.empty());  // posted to the loop, never called back re-entrantly
    b.settle();
    CHECK(b.reported == std::vector{State::Starting});
    REQUIRE(b.host->runs.size() == 1);
    CHECK(b.instance->pid() == 1000);
    CHECK(std::filesystem::exists(b.dir / "apim-1.json"));
}

TEST_CASE("shell Starting -> Running: the runtime's startup line on the group's output") {
    Bench b;
    b.instance->start();
    b.settle();
    b.run().print("INFO - starting\nINFO - WSO2 Carbon started in 12 sec\n");
    b.settle();
    CHECK(b.state() == State::Running);
    CHECK(b.reported == std::vector{State::Starting, State::Running});
    CHECK(b.instance->ready_at().has_value());
}

TEST_CASE("shell Starting -> Backoff: a host refusal is a failed start, no group exists") {
    Bench b;
    b.host->refusal = StartRefusal{ExitReason::PortConflict, "port 9443 is held by pid 7"};
    b.instance->start();
    b.settle();
    CHECK(b.state() == State::Backoff);
    CHECK(b.instance->reason() == ExitReason::PortConflict);
    CHECK(b.instance->last_error().find("port 9443 is held") != std::string::npos);
    CHECK_FALSE(b.instance->has_processes());
    CHECK(b.host->runs.empty());
}

TEST_CASE("shell Backoff -> Fatal: refusals count as failed starts until the retries are spent") {
    Bench b;
    b.host->refusal = StartRefusal{ExitReason::PortConflict, "port 9443 is held by pid 7"};
    b.instance->start();
    b.settle();
    for (int retry = 0; retry < 4 && b.state() == State::Backoff; ++retry) {
        b.advance(seconds(5));  // past any backoff delay up to max_delay_ms
    }
    CHECK(b.state() == State::Fatal);
    CHECK(b.host->runs.empty());
}

TEST_CASE("shell Backoff -> Starting: the retry delay passes on the clock, a new group spawns") {
    Bench b;
    b.start_running();
    b.script_exits(kExit0);  // api-manager.sh masks its JVM's status: an unrequested exit fails
    CHECK(b.state() == State::Backoff);
    b.advance(milliseconds(100));
    CHECK(b.host->runs.size() == 1);  // the delay (about 1 s, jittered) has not passed
    b.advance(seconds(2));
    CHECK(b.state() == State::Starting);
    CHECK(b.host->runs.size() == 2);
}

TEST_CASE("shell Running -> Stopping -> Stopped: a requested stop signals once and never kills") {
    Bench b;
    b.start_running();
    b.instance->stop();
    b.settle();
    CHECK(b.state() == State::Stopping);
    CHECK(b.run().stop_requests == 1);
    b.script_exits(kSigterm);
    CHECK(b.state() == State::Stopped);
    CHECK(b.run().kills == 0);
    CHECK_FALSE(std::filesystem::exists(b.dir / "apim-1.json"));
    CHECK(b.reported.back() == State::Stopped);
}

TEST_CASE("shell Stopping: the stop deadline passes on the clock and the group is killed") {
    Bench b;
    b.start_running();
    b.instance->stop();
    b.settle();
    b.advance(seconds(59));
    CHECK(b.run().kills == 0);
    b.advance(seconds(2));
    CHECK(b.run().kills == 1);
    b.script_exits(ExitStatus{true, 9});
    CHECK(b.state() == State::Stopped);
    CHECK(b.instance->reason() == ExitReason::StopTimeout);
}

TEST_CASE("shell Starting -> Stopping: the start deadline passes, the group is stopped") {
    Bench b;
    b.instance->start();
    b.settle();
    b.advance(seconds(301));
    CHECK(b.state() == State::Stopping);
    CHECK(b.run().stop_requests == 1);
    b.script_exits(kSigterm);
    CHECK(b.state() == State::Backoff);
    CHECK(b.instance->reason() == ExitReason::StartTimeout);
}

TEST_CASE("shell Running -> Stopping: the script is gone, its JVM is drained, then Backoff") {
    Bench b;
    b.start_running();
    b.script_exits(kExit0, /*jvm_left=*/true);
    CHECK(b.state() == State::Stopping);
    CHECK(b.run().stop_requests == 1);
    CHECK(b.instance->has_processes());
    b.group_drains();
    CHECK(b.state() == State::Backoff);
    CHECK_FALSE(b.instance->has_processes());
}

TEST_CASE("shell: the run's last output lines are kept to say why it ended") {
    Bench b;
    b.start_running();
    b.run().print("ERROR - Failed to bind port 9763: Address already in use\n");
    b.settle();
    b.script_exits(kExit0);
    REQUIRE_FALSE(b.instance->last_output().empty());
    CHECK(b.instance->last_output().back().find("Failed to bind port 9763") != std::string::npos);
    CHECK(std::filesystem::exists(b.dir / "logs" / "apim-1.log"));
}

TEST_CASE("shell Backoff -> Stopped: a stop drops the retry, nothing spawns when it would have") {
    Bench b;
    b.start_running();
    b.script_exits(kExit0);
    REQUIRE(b.state() == State::Backoff);
    b.instance->stop();
    b.settle();
    CHECK(b.state() == State::Stopped);
    b.advance(seconds(10));
    CHECK(b.state() == State::Stopped);
    CHECK(b.host->runs.size() == 1);
}

TEST_CASE(
    "regression: a supervisor that stops an instance as it reports Starting keeps the stop "
    "deadline (the start deadline once replaced it)") {
    Bench b;
    b.also_on_change = [](SupervisedProcess& instance) {
        if (instance.state() == State::Starting) {
            instance.stop();  // what stop_what_is_due does during a shutdown
        }
    };
    b.instance->start();
    b.settle();
    REQUIRE(b.state() == State::Stopping);
    b.advance(seconds(61));  // the stop deadline, far before the 300 s start deadline
    CHECK(b.run().kills == 1);
    b.script_exits(ExitStatus{true, 9});
    CHECK(b.state() == State::Stopped);
    CHECK(b.instance->reason() == ExitReason::StopTimeout);
}

TEST_CASE(
    "property: random events never leave a live group in a terminal state, never spawn a "
    "second group beside a live one, and never report a self-edge") {
    for (std::uint32_t seed = 1; seed <= 40; ++seed) {
        CAPTURE(seed);
        Bench b;
        std::mt19937 random(seed);
        auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
        for (int step = 0; step < 60; ++step) {
            const bool live_run = !b.host->runs.empty() && b.run().alive;
            switch (pick(9)) {
                case 0:
                    b.instance->start();
                    break;
                case 1:
                    b.instance->stop();
                    break;
                case 2:
                    b.instance->restart();
                    break;
                case 3:
                    if (live_run && b.instance->pid() > 0) {
                        b.script_exits(ExitStatus{pick(2) == 0, pick(3) == 0 ? 0 : 9},
                                       pick(3) == 0);
                    }
                    break;
                case 4:
                    if (live_run && b.instance->pid() < 0) {
                        b.group_drains();
                    }
                    break;
                case 5:
                    if (live_run) {
                        b.run().print("WSO2 Carbon started in 3 sec\n");
                    }
                    break;
                case 6:
                    b.advance(seconds(pick(90)));
                    break;
                case 7:
                    b.host->refusal =
                        pick(2) == 0
                            ? std::nullopt
                            : std::optional(StartRefusal{ExitReason::PortConflict, "held"});
                    break;
                default:
                    b.settle();
                    break;
            }
            b.settle();
            const State s = b.state();
            if (s == State::Stopped || s == State::Exited || s == State::Fatal ||
                s == State::Backoff) {
                CHECK_FALSE(b.instance->has_processes());
            }
            if (s == State::Starting || s == State::Running) {
                CHECK(b.instance->has_processes());
            }
        }
        b.instance.reset();  // flushes the instance's log
        CHECK(self_edges(test::read_file(b.dir / "logs" / "apim-1.log")).empty());
    }
}
