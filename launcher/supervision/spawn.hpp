#pragma once

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process_state.hpp"

#ifdef _WIN32
#include <boost/asio/windows/stream_handle.hpp>
#else
#include <boost/asio/posix/stream_descriptor.hpp>
#endif

namespace carbon {

class InstanceCgroup;  // supervision/cgroup.hpp

struct SpawnSpec {
    std::filesystem::path executable;
    std::vector<std::string> args;  // without argv[0]
    std::vector<std::string> env;   // "NAME=value"
    std::filesystem::path cwd;
    std::optional<std::pair<unsigned, unsigned>> run_as;  // uid, gid: drop privileges (POSIX)
    /// Linux: the cgroup the child moves itself into before it execs; null: a process group
    /// alone holds the instance together.
    std::shared_ptr<InstanceCgroup> cgroup;
};

/// The read end of the pipe that carries an instance's stdout and stderr.
#ifdef _WIN32
using OutputPipe = boost::asio::windows::stream_handle;
#else
using OutputPipe = boost::asio::posix::stream_descriptor;
#endif

/// Everything one instance runs (the start script, the JVM under it, anything the JVM starts),
/// handled as one unit. POSIX: a new session, so one process group, and with cgroups also a
/// cgroup that holds whatever leaves the group (setsid). Windows: a Job Object with
/// KILL_ON_JOB_CLOSE that the child joins before its first instruction runs, and a console of
/// its own, so that CTRL_C reaches the JVM and nothing else. stdin is the null device.
class ChildGroup {
  public:
    /// Starts the child; throws std::system_error when it cannot.
    ChildGroup(boost::asio::io_context& io, const SpawnSpec& spec);
    ~ChildGroup();  // never stops anything: a stop is always explicit
    ChildGroup(const ChildGroup&) = delete;
    ChildGroup& operator=(const ChildGroup&) = delete;

    /// The main process (the start script).
    int pid() const;
    std::unique_ptr<OutputPipe> take_output(boost::asio::io_context& io);

    /// Windows: waits on the loop for the main process and then for each remaining member.
    /// POSIX: nothing to arm, the supervisor's one SIGCHLD reaper reports exits instead.
    void watch(std::function<void(ExitStatus)> main_exited, std::function<void()> member_exited);

    /// The graceful stop: SIGTERM to the group (and to every other member of its cgroup), or
    /// CTRL_C to the instance's console (never CTRL_BREAK, which makes a JVM print a thread dump
    /// and carry on). Returns what it did.
    std::string request_stop();
    /// The forced stop: SIGKILL to the group, cgroup.kill, or TerminateJobObject. Returns what
    /// it did.
    std::string kill();
    /// True while any member is left (a process group's zombies count until reaped; a cgroup
    /// drops each process as it exits).
    bool alive() const;
    /// True when `pid` belongs to this group (a port held by our own JVM is not a conflict).
    bool contains(int pid) const;
    /// "process group 1234", "cgroup /sys/fs/cgroup/.../apim-1" or "job of pid 1234": what holds
    /// the instance together, for logs and `status`.
    std::string describe() const;
    /// The instance's cgroup directory, or "" when it runs without one.
    std::filesystem::path cgroup_directory() const;

  private:
    struct Native;
    std::unique_ptr<Native> native_;
};

/// The launcher's own pid.
int current_pid();

}  // namespace carbon
