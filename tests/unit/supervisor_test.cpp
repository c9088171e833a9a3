// The Supervisor (the daemon: `after` ordering, shutdown order, reload) over fake runs: its
// real planning, state dir, control socket and signal handling, with a fake RunHost so that no
// process is started. A script of steps runs on the supervisor's own loop, each step once its
// condition holds; every wait is bounded and a step that never comes fails the test and shuts
// the supervisor down.
#include <doctest/doctest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <deque>
#include <initializer_list>
#include <string>

#include "fake_run_host.hpp"
#include "supervision/supervisor.hpp"
#include "test_support.hpp"

using namespace carbon;
using carbon::test::FakeHost;
using carbon::test::FakeRun;
using carbon::test::make_home;
using carbon::test::TempDir;
using carbon::test::write_file;

namespace {

constexpr ExitStatus kSigtermExit{true, 15};
constexpr const char* kStartupLine = "INFO - WSO2 Carbon started in 12 sec\n";

/// API-M homes with profiles on disk (a simulated JDK, a small heap, probes off: readiness is the
/// startup line), and the options `run` would get for them.
struct Fleet {
    TempDir dir;

    Fleet() {
        write_file(dir / "jdk/release", "JAVA_VERSION=\"17.0.12\"\n");
        std::filesystem::create_directories(dir / "jdk/bin");
    }
    void add(const std::string& name, const std::string& extra = "") const {
        make_home(dir / "homes" / name, "api-manager");
        write_profile(name, extra);
    }
    void write_profile(const std::string& name, const std::string& extra) const {
        write_file(dir / ("profiles/" + name + ".json"),
                   R"({"name":")" + name + R"(","runtime":"api-manager","home":")" +
                       (dir / "homes" / name).generic_string() + R"(","java_home":")" +
                       (dir / "jdk").generic_string() +
                       R"(","env":{"JAVA_OPTS":"-Xmx64m"},"stop_timeout_s":60,)" +
                       R"("health":{"startup":"off","readiness":"off","liveness":"off"})" + extra +
                       "}");
    }
    /// True once `name`'s log (the launcher's lines and the run's output) holds `text`.
    bool log_has(const std::string& name, const std::string& text) const {
        std::error_code ec;
        const auto log = dir / ("state/logs/" + name + ".log");
        return std::filesystem::exists(log, ec) &&
               test::read_file(log).find(text) != std::string::npos;
    }
    CommonOptions options() const {
        CommonOptions options;
        options.profiles_dir = (dir / "profiles").string();
        options.state_dir = (dir / "state").string();
        options.runtimes_dir =
            (std::filesystem::path(CARBON_SOURCE_DIR) / "profiles/runtimes").string();
        options.socket_path = (dir / "control.sock").string();
        options.serving = true;
        return options;
    }
};

/// Steps run on the loop in order, each when its condition holds (looked at every 10 ms, at
/// most 500 times), then its action.
class Script {
  public:
    Script(boost::asio::io_context& io, Supervisor& supervisor)
        : timer_(io), supervisor_(supervisor) {}

    Script& when(std::string what, std::function<bool()> ready, std::function<void()> act) {
        steps_.push_back({std::move(what), std::move(ready), std::move(act)});
        return *this;
    }
    void start() { look(); }
    bool finished() const { return steps_.empty(); }

  private:
    struct Step {
        std::string what;
        std::function<bool()> ready;
        std::function<void()> act;
    };

    void look() {
        if (steps_.empty()) {
            return;
        }
        if (steps_.front().ready()) {
            Step step = std::move(steps_.front());
            steps_.pop_front();
            looks_ = 0;
            step.act();
        } else if (++looks_ > 500) {
            FAIL_CHECK("never came: " << steps_.front().what);
            steps_.clear();
            supervisor_.request_shutdown();
            return;
        }
        timer_.expires_after(std::chrono::milliseconds(10));
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) {
                look();
            }
        });
    }

    boost::asio::steady_timer timer_;
    Supervisor& supervisor_;
    std::deque<Step> steps_;
    int looks_ = 0;
};

/// A supervisor over `fleet` whose runs come from `host`, with a containment of process groups
/// (no cgroup is made for a unit test).
struct Daemon {
    boost::asio::io_context io;
    std::shared_ptr<FakeHost> host = std::make_shared<FakeHost>();
    Supervisor supervisor;
    Script script{io, supervisor};

    explicit Daemon(const Fleet& fleet)
        : supervisor(io, fleet.options(),
                     SupervisorSeams{[](const std::filesystem::path&) {
                                         return std::make_shared<Containment>(
                                             ContainmentMode::ProcessGroup, "a unit test");
                                     },
                                     [this](std::shared_ptr<Containment>) { return host; }}) {}
    ~Daemon() {
        for (auto& run : host->runs) {
            run->close_output();
        }
    }

    int run() {
        boost::asio::post(io, [this] { script.start(); });
        const int code = supervisor.run();
        CHECK(script.finished());
        return code;
    }
    std::size_t runs() const { return host->runs.size(); }
    FakeRun& run_of(const std::string& name) const {
        auto found = host->last_run_of(name);
        REQUIRE(found != nullptr);
        return *found;
    }
};

/// The shutdown's steps: each of `order` asked to stop in turn, then ended by its SIGTERM.
void expect_stops_in_order(Daemon& daemon, std::initializer_list<const char*> order) {
    for (const char* name : order) {
        daemon.script.when(
            std::string(name) + " asked to stop",
            [&daemon, name] { return daemon.run_of(name).stop_requests == 1; },
            [&daemon, name] { daemon.run_of(name).exit(kSigtermExit); });
    }
}

}  // namespace

TEST_CASE(
    "supervisor: `after` starts an instance once the one before it runs; stops go in "
    "reverse order") {
    Fleet fleet;
    fleet.add("a");
    fleet.add("b", R"(,"after":["a"])");
    Daemon daemon(fleet);
    daemon.script
        .when(
            "a spawned", [&] { return daemon.runs() == 1; },
            [&] {
                CHECK(daemon.host->runs[0]->name == "a");
                daemon.run_of("a").print(kStartupLine);
            })
        .when(
            "b spawned after a is Running", [&] { return daemon.runs() == 2; },
            [&] {
                CHECK(daemon.host->runs[1]->name == "b");
                daemon.run_of("b").print(kStartupLine);
                daemon.supervisor.request_shutdown();
            })
        .when(
            "b asked to stop first", [&] { return daemon.run_of("b").stop_requests == 1; },
            [&] {
                CHECK(daemon.run_of("a").stop_requests == 0);  // a waits for b
                daemon.run_of("b").exit(kSigtermExit);
            })
        .when(
            "a asked to stop once b is down", [&] { return daemon.run_of("a").stop_requests == 1; },
            [&] { daemon.run_of("a").exit(kSigtermExit); });
    CHECK(daemon.run() == 0);
    CHECK(daemon.runs() == 2);
    CHECK(daemon.run_of("a").kills == 0);  // graceful: no instance was killed
    CHECK(daemon.run_of("b").kills == 0);
}

TEST_CASE("supervisor: a reload restarts only the instance whose profile changed") {
    Fleet fleet;
    fleet.add("a");
    fleet.add("b");
    Daemon daemon(fleet);
    daemon.script
        .when(
            "both spawned", [&] { return daemon.runs() == 2; },
            [&] {
                daemon.run_of("a").print(kStartupLine);
                daemon.run_of("b").print(kStartupLine);
            })
        .when(
            "both Running",
            [&] { return fleet.log_has("a", "-> Running") && fleet.log_has("b", "-> Running"); },
            [&] {
                fleet.write_profile("b", R"(,"args":["-Dchanged=1"])");
                ::raise(SIGHUP);  // what `systemctl reload` sends
            })
        .when(
            "b asked to stop for the restart (both were Running)",
            [&] { return daemon.run_of("b").stop_requests == 1; },
            [&] { daemon.run_of("b").exit(kSigtermExit); })
        .when(
            "b spawned again", [&] { return daemon.runs() == 3; },
            [&] {
                CHECK(daemon.host->runs[2]->name == "b");
                CHECK(daemon.run_of("a").stop_requests == 0);  // a is untouched
                daemon.run_of("b").print(kStartupLine);
                daemon.supervisor.request_shutdown();
            })
        .when(
            "b stops", [&] { return daemon.run_of("b").stop_requests == 1; },
            [&] { daemon.run_of("b").exit(kSigtermExit); })
        .when(
            "a stops", [&] { return daemon.run_of("a").stop_requests == 1; },
            [&] { daemon.run_of("a").exit(kSigtermExit); });
    CHECK(daemon.run() == 0);
}

TEST_CASE(
    "supervisor: a reload of an instance that gave up starts it again; the launcher still "
    "stops") {
    Fleet fleet;
    fleet.add("a");
    fleet.add("b", R"(,"restart":{"max_retries":0})");
    Daemon daemon(fleet);
    daemon.script
        .when(
            "both spawned", [&] { return daemon.runs() == 2; },
            [&] {
                daemon.run_of("a").print(kStartupLine);
                daemon.run_of("b").exit(ExitStatus{false, 1});  // no retries: Fatal
            })
        .when(
            "b Fatal", [&] { return fleet.log_has("b", "-> Fatal"); },
            [&] {
                fleet.write_profile("b", R"(,"restart":{"max_retries":0},"args":["-Dfixed=1"])");
                ::raise(SIGHUP);
            })
        .when(
            "b spawned again, with nothing of it left to stop", [&] { return daemon.runs() == 3; },
            [&] {
                CHECK(daemon.host->runs[2]->name == "b");
                daemon.run_of("b").print(kStartupLine);
            })
        .when(
            "b Running", [&] { return fleet.log_has("b", "-> Running"); },
            [&] { daemon.supervisor.request_shutdown(); });
    expect_stops_in_order(daemon, {"b", "a"});
    CHECK(daemon.run() == 0);  // before the fix: the old b stayed retiring and this never returned
}

TEST_CASE("supervisor: what a reload adds starts once every group it replaced is gone") {
    Fleet fleet;
    fleet.add("a");
    Daemon daemon(fleet);
    daemon.script
        .when(
            "a spawned", [&] { return daemon.runs() == 1; },
            [&] { daemon.run_of("a").print(kStartupLine); })
        .when(
            "a Running", [&] { return fleet.log_has("a", "-> Running"); },
            [&] {
                // The new plan may hand c ports the old a still holds (an explicit offset, a
                // moved one): c must not start before the old a is gone.
                fleet.write_profile("a", R"(,"args":["-Dchanged=1"])");
                fleet.add("c");
                ::raise(SIGHUP);
            })
        .when(
            "a asked to stop for the restart",
            [&] { return daemon.run_of("a").stop_requests == 1; },
            [&] {
                CHECK(daemon.runs() == 1);  // c waits
                daemon.run_of("a").exit(kSigtermExit);
            })
        .when(
            "a and c spawned once the old a is gone", [&] { return daemon.runs() == 3; },
            [&] {
                daemon.run_of("a").print(kStartupLine);
                daemon.run_of("c").print(kStartupLine);
            })
        .when(
            "both Running", [&] { return fleet.log_has("c", "-> Running") && daemon.runs() == 3; },
            [&] { daemon.supervisor.request_shutdown(); });
    expect_stops_in_order(daemon, {"a", "c"});  // independent: both asked at once
    CHECK(daemon.run() == 0);
}

TEST_CASE("supervisor: a crash of a running instance restarts only that instance") {
    Fleet fleet;
    fleet.add("a", R"(,"restart":{"delay_ms":50})");
    fleet.add("b");
    Daemon daemon(fleet);
    daemon.script
        .when(
            "both spawned", [&] { return daemon.runs() == 2; },
            [&] {
                daemon.run_of("a").print(kStartupLine);
                daemon.run_of("b").print(kStartupLine);
            })
        .when(
            "a Running", [&] { return fleet.log_has("a", "-> Running"); },
            [&] {
                daemon.run_of("a").exit(ExitStatus{true, 9});
            })  // SIGKILLed from outside
        .when(
            "a restarted after its delay", [&] { return daemon.runs() == 3; },
            [&] {
                CHECK(daemon.host->runs[2]->name == "a");
                CHECK(daemon.run_of("b").stop_requests == 0);
                daemon.supervisor.request_shutdown();
            })
        .when(
            "a stops", [&] { return daemon.run_of("a").stop_requests == 1; },
            [&] { daemon.run_of("a").exit(kSigtermExit); })
        .when(
            "b stops", [&] { return daemon.run_of("b").stop_requests == 1; },
            [&] { daemon.run_of("b").exit(kSigtermExit); });
    CHECK(daemon.run() == 0);
}
