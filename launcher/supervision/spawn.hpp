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
/// handled as one unit. The supervision core sees only this interface: ChildGroup below is the
/// OS's, unit tests give a fake one.
class ProcessGroup {
  public:
    virtual ~ProcessGroup() = default;  // never stops anything: a stop is always explicit

    /// The main process (the start script).
    virtual int pid() const = 0;
    /// The read end of the pipe carrying its stdout and stderr; null when there is none.
    virtual std::unique_ptr<OutputPipe> take_output(boost::asio::io_context& io) = 0;
    /// Windows: waits on the loop for the main process and then for each remaining member.
    /// POSIX: nothing to arm, the supervisor's one SIGCHLD reaper reports exits instead.
    virtual void watch(std::function<void(ExitStatus)> main_exited,
                       std::function<void()> member_exited) = 0;
    /// The graceful stop. Returns what it did, for the log.
    virtual std::string request_stop() = 0;
    /// The forced stop. Returns what it did, for the log.
    virtual std::string kill() = 0;
    /// Asks the JVM `jvm_pid`, a member of this group, to print a thread dump on its stdout and
    /// carry on. Returns what it did; nullopt when it could not (the reason is logged).
    virtual std::optional<std::string> request_thread_dump(int jvm_pid) = 0;
    /// True while any member is left.
    virtual bool alive() const = 0;
    /// True when `pid` belongs to this group (a port held by our own JVM is not a conflict).
    virtual bool contains(int pid) const = 0;
    /// What holds the instance together, for logs and `status`.
    virtual std::string describe() const = 0;
    /// The instance's cgroup directory, or "" when it runs without one.
    virtual std::filesystem::path cgroup_directory() const = 0;
};

/// The OS's process group. POSIX: a new session, so one process group, and with cgroups also a
/// cgroup that holds whatever leaves the group (setsid). Windows: a Job Object with
/// KILL_ON_JOB_CLOSE that the child joins before its first instruction runs, and a console of
/// its own, so that CTRL_C reaches the JVM and nothing else. stdin is the null device.
class ChildGroup final : public ProcessGroup {
  public:
    /// Starts the child; throws std::system_error when it cannot.
    ChildGroup(boost::asio::io_context& io, const SpawnSpec& spec);
    ~ChildGroup() override;
    ChildGroup(const ChildGroup&) = delete;
    ChildGroup& operator=(const ChildGroup&) = delete;

    int pid() const override;
    std::unique_ptr<OutputPipe> take_output(boost::asio::io_context& io) override;
    void watch(std::function<void(ExitStatus)> main_exited,
               std::function<void()> member_exited) override;
    /// SIGTERM to the group (and to every other member of its cgroup), or CTRL_C to the
    /// instance's console (never CTRL_BREAK, which makes a JVM print a thread dump and carry on).
    std::string request_stop() override;
    /// SIGKILL to the group, cgroup.kill, or TerminateJobObject.
    std::string kill() override;
    /// SIGQUIT to the JVM (HotSpot prints the dump and carries on); only to a member of this
    /// group, so a stale pid file can never make us signal a stranger. Not on Windows yet.
    std::optional<std::string> request_thread_dump(int jvm_pid) override;
    /// A process group's zombies count until reaped; a cgroup drops each process as it exits.
    bool alive() const override;
    bool contains(int pid) const override;
    /// "process group 1234", "cgroup /sys/fs/cgroup/.../apim-1" or "job of pid 1234".
    std::string describe() const override;
    std::filesystem::path cgroup_directory() const override;

  private:
    struct Native;
    std::unique_ptr<Native> native_;
};

/// The launcher's own pid.
int current_pid();

}  // namespace carbon
