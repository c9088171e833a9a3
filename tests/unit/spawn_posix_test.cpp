// ChildGroup on Linux against the real OS: what the start script finds when it begins (its
// cgroup, its descriptors, its signal mask) and what a spawn that cannot exec leaves behind.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <string>
#include <system_error>

#include "supervision/cgroup.hpp"
#include "supervision/spawn.hpp"
#include "test_support.hpp"

using namespace carbon;

namespace {

SpawnSpec shell(const std::string& command, const std::filesystem::path& cwd) {
    SpawnSpec spec;
    spec.executable = "/bin/sh";
    spec.args = {"-c", command};
    spec.cwd = cwd;
    spec.env = {"PATH=/usr/bin:/bin"};
    return spec;
}

/// Everything the child wrote on stdout and stderr, and its exit code, once it has ended.
struct Finished {
    std::string output;
    int exit_code = -1;
};

Finished run_to_the_end(const SpawnSpec& spec) {
    boost::asio::io_context io;
    ChildGroup child(io, spec);
    const auto pipe = child.take_output(io);
    Finished finished;
    boost::system::error_code ec;  // eof: the child and everything it started are done
    boost::asio::read(*pipe, boost::asio::dynamic_buffer(finished.output), ec);
    int status = 0;
    REQUIRE(::waitpid(child.pid(), &status, 0) == child.pid());
    finished.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return finished;
}

/// No child of this test process is left, not even a zombie.
bool no_child_left() {
    return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

/// Cgroups as `run` sets them up, for a state dir of the test's own.
std::shared_ptr<Containment> cgroups(const test::TempDir& state) {
    auto containment = Containment::set_up(state.path());
    REQUIRE(containment->mode() == ContainmentMode::Cgroup);
    return containment;
}

/// For doctest::skip: true without root or a writable cgroup v2 mount (the test is then
/// reported as skipped, never as passed).
bool no_cgroups() {
    static const bool missing = [] {
        test::TempDir state;
        return Containment::set_up(state.path())->mode() != ContainmentMode::Cgroup;
    }();
    return missing;
}

}  // namespace

TEST_CASE("the start script begins with stdin from /dev/null and no descriptor of the launcher") {
    test::TempDir home;
    const Finished finished =
        run_to_the_end(shell("ls /proc/$$/fd; readlink /proc/$$/fd/0", home.path()));
    CHECK(finished.exit_code == 0);
    CHECK(finished.output == "0\n1\n2\n/dev/null\n");
    CHECK(no_child_left());
}

TEST_CASE("the start script begins with no signal blocked") {
    // The launcher blocks every signal around the spawn; a mask survives execve(). (grep, not
    // a shell: dash clears its mask when it starts.)
    test::TempDir home;
    SpawnSpec spec = shell("", home.path());
    spec.executable = "/bin/grep";
    spec.args = {"SigBlk", "/proc/self/status"};
    const Finished finished = run_to_the_end(spec);
    CHECK(finished.exit_code == 0);
    CHECK(finished.output == "SigBlk:\t0000000000000000\n");
    CHECK(no_child_left());
}

TEST_CASE(
    "a start script that cannot be executed fails the spawn with its errno and leaves no "
    "child") {
    test::TempDir home;
    SpawnSpec spec = shell("true", home.path());
    spec.executable = home / "bin" / "api-manager.sh";  // not there
    boost::asio::io_context io;
    try {
        ChildGroup child(io, spec);
        FAIL("spawned a script that does not exist");
    } catch (const std::system_error& error) {
        CHECK(error.code().value() == ENOENT);
        CHECK(std::string(error.what()).find("api-manager.sh") != std::string::npos);
    }
    CHECK(no_child_left());
}

TEST_CASE("in cgroup mode the start script is a member of its instance's cgroup when it begins" *
          doctest::skip(no_cgroups())) {
    test::TempDir state;
    const auto containment = cgroups(state);
    // "0::/PATH" (the v2 line; a hybrid host lists v1 hierarchies too): below the mount.
    SpawnSpec spec = shell("grep ^0:: /proc/$$/cgroup", state.path());
    spec.cgroup = containment->create("w0", {});
    const std::string directory = spec.cgroup->directory().string();
    const Finished finished = run_to_the_end(spec);
    CHECK(finished.exit_code == 0);
    REQUIRE(finished.output.rfind("0::/", 0) == 0);
    const std::string path = finished.output.substr(3, finished.output.size() - 4);
    CHECK(directory.size() > path.size());
    CHECK(directory.compare(directory.size() - path.size(), path.size(), path) == 0);
    CHECK(no_child_left());
}

TEST_CASE("in cgroup mode a start script that cannot be executed leaves its cgroup empty" *
          doctest::skip(no_cgroups())) {
    test::TempDir state;
    const auto containment = cgroups(state);
    SpawnSpec spec = shell("true", state.path());
    spec.executable = state / "missing.sh";
    spec.cgroup = containment->create("w0", {});
    boost::asio::io_context io;
    CHECK_THROWS_AS(ChildGroup(io, spec), std::system_error);
    CHECK_FALSE(spec.cgroup->populated());
    CHECK(no_child_left());
}
