// The only translation unit that includes Boost.Process v2 (it compiles slowly).
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include <system_error>

// Boost 1.81's Process v2 with BOOST_PROCESS_USE_STD_FS forgets two includes: they must come
// first. Then its compiled part, built here once (Debian ships no library for it).
// clang-format off
#include <boost/optional.hpp>
#include <boost/type_traits.hpp>
#include <boost/process/v2.hpp>
#include <boost/process/v2/src.hpp>
// clang-format on

#include <spdlog/spdlog.h>

#include <cstring>

#include "os/process_probe.hpp"
#include "proc_stat.hpp"
#include "supervision/cgroup.hpp"
#include "supervision/spawn.hpp"

namespace bp2 = boost::process::v2;

namespace carbon {
namespace {

/// Runs in the child between fork and exec.
struct NewSessionInit {
    int cgroup_procs_fd = -1;  // the instance cgroup's cgroup.procs, opened by the launcher
    std::optional<std::pair<unsigned, unsigned>> run_as;

    boost::system::error_code on_exec_setup(bp2::posix::default_launcher&,
                                            const bp2::filesystem::path&,
                                            const char* const*) const {
        // Into the instance's cgroup first ("0" is the writer itself), while still privileged:
        // between fork() and here the child runs only this launcher's code, so the start script
        // and everything it starts are members from their first instruction and no fork can
        // happen outside. (Boost.Process forks; clone3's CLONE_INTO_CGROUP is not reachable
        // through it.) A failed move fails the spawn: the operator was told cgroups are on.
        if (cgroup_procs_fd >= 0 && ::write(cgroup_procs_fd, "0", 1) != 1) {
            return {errno, boost::system::system_category()};
        }
        if (::setsid() < 0) {
            return {errno, boost::system::system_category()};
        }
        if (run_as) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(run_as->second) != 0 ||
                ::setuid(run_as->first) != 0) {
                return {errno, boost::system::system_category()};
            }
        }
        return {};
    }
};

}  // namespace

struct ChildGroup::Native {
    int pid = -1;  // also the process group id: the child leads a new session
    int output_fd = -1;
    std::shared_ptr<InstanceCgroup> cgroup;  // null: the process group alone
};

ChildGroup::ChildGroup(boost::asio::io_context&, const SpawnSpec& spec)
    : native_(std::make_unique<Native>()) {
    // Boost.Process calls notify_fork() on the executor's io_context around fork(), and asio
    // then deregisters and re-registers its signal pipe in the middle of the supervisor's loop.
    // The child execs at once and needs none of that: give the launcher a context of its own
    // that never runs, so the supervisor's reactor and signal handling are never touched.
    static boost::asio::io_context spawn_only_context;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "cannot create an output pipe");
    }
    boost::system::error_code ec;
    bp2::process child(spawn_only_context.get_executor(), spec.executable, spec.args, ec,
                       bp2::process_environment(spec.env), bp2::process_start_dir(spec.cwd),
                       bp2::process_stdio{nullptr, fds[1], fds[1]},
                       NewSessionInit{spec.cgroup ? spec.cgroup->procs_fd() : -1, spec.run_as});
    ::close(fds[1]);
    if (ec) {
        ::close(fds[0]);
        throw std::system_error(ec.value(), std::generic_category(),
                                "cannot start " + spec.executable.string());
    }
    native_->pid = child.id();
    native_->output_fd = fds[0];
    native_->cgroup = spec.cgroup;
    child.detach();  // our SIGCHLD reaper owns the exit status, not this handle
}

ChildGroup::~ChildGroup() {
    if (native_->output_fd >= 0) {
        ::close(native_->output_fd);
    }
}

int ChildGroup::pid() const {
    return native_->pid;
}

std::unique_ptr<OutputPipe> ChildGroup::take_output(boost::asio::io_context& io) {
    const int fd = std::exchange(native_->output_fd, -1);
    return std::make_unique<OutputPipe>(io, fd);
}

void ChildGroup::watch(std::function<void(ExitStatus)>, std::function<void()>) {}

// The group as a whole first (one kill(), so a fork in flight inside it is caught), then each
// member of the cgroup outside it, once: a process that called setsid() is stopped as gently
// as the rest, and the JVM is not signalled twice.
std::string ChildGroup::request_stop() {
    signal_group(native_->pid, SIGTERM);
    std::string what = "SIGTERM to process group " + std::to_string(native_->pid);
    if (native_->cgroup) {
        if (const int others = native_->cgroup->signal_members(SIGTERM, native_->pid)) {
            what += " and to " + std::to_string(others) + " other process" +
                    (others == 1 ? "" : "es") + " of its cgroup";
        }
    }
    return what;
}

std::string ChildGroup::kill() {
    if (native_->cgroup) {
        return "SIGKILL to process group " + std::to_string(native_->pid) +
               " and the rest of its cgroup (" + native_->cgroup->kill() + ")";
    }
    signal_group(native_->pid, SIGKILL);
    return "SIGKILL to process group " + std::to_string(native_->pid);
}

std::optional<std::string> ChildGroup::request_thread_dump(int jvm_pid) {
    if (jvm_pid <= 0 || jvm_pid == native_->pid || !contains(jvm_pid)) {
        spdlog::warn("no thread dump: pid {} is not a JVM of process group {}", jvm_pid,
                     native_->pid);
        return std::nullopt;
    }
    if (::kill(jvm_pid, SIGQUIT) != 0) {
        spdlog::warn("no thread dump: SIGQUIT to pid {}: {}", jvm_pid, std::strerror(errno));
        return std::nullopt;
    }
    return "SIGQUIT to JVM pid " + std::to_string(jvm_pid);
}

// A cgroup drops a process when it exits, before its parent hears of it; the group counts its
// zombies until they are reaped. Gone means both: nothing runs, and nothing is left to reap.
bool ChildGroup::alive() const {
    return group_alive(native_->pid) || (native_->cgroup && native_->cgroup->populated());
}

bool ChildGroup::contains(int pid) const {
    if (native_->cgroup) {
        return native_->cgroup->contains(pid);
    }
    const auto stat = read_proc_stat(pid);
    return stat && stat->pgrp == native_->pid;
}

std::string ChildGroup::describe() const {
    return native_->cgroup ? "cgroup " + native_->cgroup->directory().string()
                           : "process group " + std::to_string(native_->pid);
}

std::filesystem::path ChildGroup::cgroup_directory() const {
    return native_->cgroup ? native_->cgroup->directory() : std::filesystem::path();
}

int current_pid() {
    return ::getpid();
}

}  // namespace carbon
