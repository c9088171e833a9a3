// The Windows platform files, against the real OS (run under Wine in CI): atomic replace, the
// TCP table, the state-dir lock, netsh's port ranges, and a ChildGroup's job: exit codes (a
// WSO2-shaped .bat's too), output, kill.
#include <doctest/doctest.h>
#include <windows.h>

#include <boost/asio.hpp>

#include "os/atomic_file.hpp"
#include "os/host_facts.hpp"
#include "os/host_ports.hpp"
#include "os/state_lock.hpp"
#include "supervision/spawn.hpp"
#include "test_support.hpp"

namespace asio = boost::asio;
using namespace carbon;

namespace {

/// Runs the loop until `done` or 20 s pass; true when done.
bool run_until(asio::io_context& io, const bool& done) {
    asio::steady_timer limit(io, std::chrono::seconds(20));
    limit.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) {
            io.stop();
        }
    });
    while (!done && !io.stopped()) {
        io.run_one();
    }
    return done;
}

SpawnSpec batch(const std::filesystem::path& script) {
    SpawnSpec spec;
    spec.executable = "cmd.exe";
    spec.args = {"/d", "/c", script.string()};
    spec.cwd = script.parent_path();
    spec.env = {"SystemRoot=" +
                std::string(std::getenv("SystemRoot") ? std::getenv("SystemRoot") : "C:\\windows")};
    return spec;
}

}  // namespace

TEST_CASE("write_file_atomically replaces a file and leaves no temp file") {
    test::TempDir dir;
    const auto file = dir.path() / "deployment.yaml";
    test::write_file(file, "old\n");
    write_file_atomically(file, "new\n");
    CHECK(test::read_file(file) == "new\n");
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        ++entries;
    }
    CHECK(entries == 1);
}

TEST_CASE("the TCP table shows a listener of this process") {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    const int port = acceptor.local_endpoint().port();
    const HostPorts host;
    REQUIRE(host.is_held(port));
    const auto holder = host.holder(port);
    if (holder.pid) {
        CHECK(*holder.pid == current_pid());
    } else {
        MESSAGE("the TCP table names no owning pid (Wine's does not; Windows' does)");
    }
}

TEST_CASE("netsh's port ranges: test files with the hooks on, netsh bounded without") {
    test::TempDir dir;
    test::write_file(dir.path() / "netsh/dynamicport.txt",
                     "Protocol tcp Dynamic Port Range\r\n-----\r\nStart Port      : 1024\r\n"
                     "Number of Ports : 64511\r\n");
    test::write_file(dir.path() / "netsh/excludedportrange.txt",
                     "Start Port    End Port\r\n----------    --------\r\n"
                     "      9400        9499\r\n     50000       50059     *\r\n");
    _putenv_s("CARBON_LAUNCHER_TEST_ROOT", dir.path().string().c_str());
    _putenv_s("CARBON_LAUNCHER_TEST_HOOKS", "1");
    HostFacts faked;
    read_platform_host_facts(faked);
    REQUIRE(faked.ephemeral);
    CHECK(faked.ephemeral->last == 65534);
    REQUIRE(faked.excluded);
    CHECK(faked.excluded->size() == 2);
    REQUIRE(faked.reserved.size() == 1);  // the administered one
    CHECK(faked.reserved[0].first == 50000);
    const PlanPreferences preferences = read_plan_preferences();
    CHECK(preferences.ephemeral->first == 1024);
    REQUIRE(preferences.reserved.size() == 1);
    CHECK(preferences.reserved[0].first == 50000);
    REQUIRE(preferences.unbindable.size() == 1);  // Hyper-V's, not administered
    CHECK(preferences.unbindable[0].first == 9400);

    std::filesystem::remove(dir.path() / "netsh/excludedportrange.txt");
    HostFacts missing;
    read_platform_host_facts(missing);
    CHECK_FALSE(missing.excluded.has_value());
    CHECK(missing.excluded_error.find("excludedportrange.txt") != std::string::npos);

    _putenv_s("CARBON_LAUNCHER_TEST_HOOKS", "");  // off: the real netsh.exe, within its 5 s
    const auto start = std::chrono::steady_clock::now();
    HostFacts real;
    read_platform_host_facts(real);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(12));
    // Measured, or not measured with why: never both, never neither.
    CHECK(real.ephemeral.has_value() == real.ephemeral_error.empty());
    CHECK(real.excluded.has_value() == real.excluded_error.empty());
    MESSAGE("netsh: dynamic range " << (real.ephemeral ? "read" : real.ephemeral_error)
                                    << "; excluded ranges "
                                    << (real.excluded ? "read" : real.excluded_error));
    _putenv_s("CARBON_LAUNCHER_TEST_ROOT", "");
}

TEST_CASE("the state dir lock refuses a second holder and names the first") {
    test::TempDir dir;
    CHECK_FALSE(lock_state_dir(dir.path()).has_value());
    const auto holder = lock_state_dir(dir.path());
    REQUIRE(holder.has_value());
    CHECK(*holder == current_pid());
}

TEST_CASE("a child's exit code and output arrive as events on the loop") {
    test::TempDir dir;
    const auto script = dir.path() / "with space" / "exit7.bat";
    test::write_file(script, "@echo off\r\necho hello from %1\r\nexit /b 7\r\n");
    asio::io_context io;
    auto spec = batch(script);
    spec.args.push_back("-DportOffset=3");
    ChildGroup group(io, spec);
    auto output = group.take_output(io);
    std::string captured;
    std::array<char, 4096> buffer{};
    std::function<void()> read = [&] {
        output->async_read_some(asio::buffer(buffer),
                                [&](boost::system::error_code ec, std::size_t n) {
                                    if (!ec) {
                                        captured.append(buffer.data(), n);
                                        read();
                                    }
                                });
    };
    read();
    std::optional<ExitStatus> status;
    bool done = false;
    group.watch(
        [&](ExitStatus s) {
            status = s;
            done = !group.alive();
        },
        [&] { done = !group.alive(); });
    REQUIRE(run_until(io, done));
    REQUIRE(status.has_value());
    CHECK(status->value == 7);
    CHECK(captured.find("hello from \"-DportOffset=3\"") != std::string::npos);
}

TEST_CASE("kill ends every process of the job") {
    test::TempDir dir;
    const auto script = dir.path() / "spin.bat";
    test::write_file(script, "@echo off\r\n:again\r\ngoto again\r\n");
    asio::io_context io;
    ChildGroup group(io, batch(script));
    CHECK(group.alive());
    CHECK(group.contains(group.pid()));
    CHECK_FALSE(group.contains(current_pid()));
    bool drained = false;
    const auto check = [&] { drained = !group.alive(); };
    group.watch([&](ExitStatus) { check(); }, check);
    group.kill();
    // Wine reports 0 for a process its job killed, Windows the code given: assert only the end.
    CHECK(run_until(io, drained));
}

TEST_CASE("a batch file that ends like WSO2's hands the JVM's exit code to the launcher") {
    // api-manager.bat and SI's carbon.bat end with the java line, `if "%ERRORLEVEL%"=="121" goto
    // runJava`, labels and a `goto`, and no `exit /b`: cmd.exe /c then exits with the ERRORLEVEL
    // the last program left, the JVM's own code (unlike the .sh scripts, which always exit 0).
    // The "JVM" is a second cmd.exe exiting with the code given (the child has no PATH).
    test::TempDir dir;
    const auto script = dir.path() / "ends-like-wso2.bat";
    test::write_file(script,
                     "@echo off\r\nsetlocal enabledelayedexpansion\r\n:runJava\r\n"
                     "\"%SystemRoot%\\system32\\cmd.exe\" /d /c exit %1\r\n"
                     "if \"%ERRORLEVEL%\"==\"121\" goto runJava\r\n"
                     ":end\r\ngoto endlocal\r\n\r\n:endlocal\r\n\r\n:END\r\n");
    for (const int code : {0, 1, 143}) {
        CAPTURE(code);
        asio::io_context io;
        auto spec = batch(script);
        spec.args.push_back(std::to_string(code));
        ChildGroup group(io, spec);
        std::optional<ExitStatus> status;
        bool done = false;
        group.watch(
            [&](ExitStatus s) {
                status = s;
                done = !group.alive();
            },
            [&] { done = !group.alive(); });
        REQUIRE(run_until(io, done));
        REQUIRE(status.has_value());
        CHECK_FALSE(status->signaled);
        CHECK(status->value == code);
    }
}
