// The only translation unit that includes Boost.Process v2 (it compiles slowly).
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

#include <algorithm>
#include <cstring>

#include "os/process_probe.hpp"
#include "proc_stat.hpp"
#include "supervision/cgroup.hpp"
#include "supervision/clone_into_cgroup.hpp"
#include "supervision/spawn.hpp"

namespace bp2 = boost::process::v2;

namespace carbon {
namespace {

/// Runs in the child between vfork and exec: system calls only (see VforkLauncher).
struct NewSessionInit {
    std::optional<std::pair<unsigned, unsigned>> run_as;

    boost::system::error_code on_exec_setup(bp2::posix::default_launcher&,
                                            const bp2::filesystem::path&,
                                            const char* const*) const {
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

template <typename Init>
boost::system::error_code setup_in_launcher(Init& init, bp2::posix::default_launcher& launcher,
                                            const bp2::filesystem::path& executable,
                                            const char* const* argv) {
    if constexpr (requires { init.on_setup(launcher, executable, argv); }) {
        return init.on_setup(launcher, executable, argv);
    }
    return {};
}

template <typename Init>
boost::system::error_code setup_in_child(Init& init, bp2::posix::default_launcher& launcher,
                                         const bp2::filesystem::path& executable,
                                         const char* const* argv) {
    if constexpr (requires { init.on_exec_setup(launcher, executable, argv); }) {
        return init.on_exec_setup(launcher, executable, argv);
    }
    return {};
}

/// Boost.Process v2's launcher with vfork() in place of fork(), for the same initializers
/// (environment, start dir, stdio, NewSessionInit) and the same process handle; and it puts the
/// child in the instance's cgroup before any of them runs.
///
/// Why not fork: a fork copies the launcher's page tables and the child faults on every page it
/// touches before execve() throws them away; Boost's default launcher meanwhile blocks on its
/// exec-report pipe. That was ~4.5 ms of each restart on the reference VM (README, "Restart
/// latency"). Why not Boost's own vfork_launcher (1.81): in the child it calls notify_fork() on
/// the io_context, which recreates the reactor's descriptors in memory the launcher shares, and
/// exit() on failure, which runs the launcher's static destructors and atexit handlers.
///
/// So here the child, which borrows the launcher's memory until it execs, makes system calls
/// and nothing else: no allocation, no lock, no library state, no return from the frame that
/// called vfork(); a failure is written into `child_error_`, read once vfork() has returned.
struct VforkLauncher : bp2::posix::default_launcher {
    /// The instance's cgroup, opened by the launcher (-1 both: no cgroup): the directory to start
    /// the child in, and its cgroup.procs for a kernel that cannot (the child writes "0").
    int cgroup_directory_fd = -1;
    int cgroup_procs_fd = -1;

    template <typename Executor, typename Args, typename... Inits>
    bp2::basic_process<Executor> operator()(Executor exec, boost::system::error_code& ec,
                                            const bp2::filesystem::path& executable, Args&& args,
                                            Inits&&... inits) {
        const char* const* argv = build_argv_(executable, std::forward<Args>(args));
        // Each initializer in turn, up to the first that fails (as Boost's own launchers do).
        ((ec = setup_in_launcher(inits, *this, executable, argv), !ec) && ...);
        if (ec) {
            return bp2::basic_process<Executor>(exec);
        }
        // Every signal blocked from before vfork() until the child has put the handlers back to
        // their defaults: no handler of the launcher ever runs in the child.
        sigset_t all;
        ::sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &original_mask_);
        pid = vfork_and_exec(executable, argv, inits...);
        const int vfork_errno = errno;
        ::pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
        if (pid < 0) {
            ec.assign(vfork_errno, boost::system::system_category());
            return bp2::basic_process<Executor>(exec);
        }
        if (child_error_) {
            // It exited before the exec (vfork() returns once the child execs or exits): reaped
            // here, it never reaches the supervisor's reaper.
            ::waitpid(pid, nullptr, 0);
            ec = child_error_;
            return bp2::basic_process<Executor>(exec);
        }
        return bp2::basic_process<Executor>(exec, pid);
    }

  private:
    /// vfork() in a frame of its own that the child never returns from: into the cgroup when
    /// there is one, else (no cgroup, or a kernel before 5.7 or a build that cannot) a plain
    /// vfork, and the child joins by writing cgroup.procs, which also reports what stands in
    /// the way.
    template <typename... Inits>
    __attribute__((noinline)) pid_t vfork_and_exec(const bp2::filesystem::path& executable,
                                                   const char* const* argv, Inits&... inits) {
        if (cgroup_directory_fd >= 0) {
            struct clone_args args = vfork_into_cgroup_args(cgroup_directory_fd);
            const pid_t child = pid_or_errno(carbon_vfork_into_cgroup(&args, sizeof args));
            if (child == 0) {
                exec_in_child(true, executable, argv, inits...);
            }
            if (child > 0) {
                return child;
            }
        }
        const pid_t child = ::vfork();
        if (child == 0) {
            exec_in_child(false, executable, argv, inits...);
        }
        return child;
    }

    /// The child, on the launcher's memory: system calls only, up to execve() or _exit().
    template <typename... Inits>
    [[noreturn]] void exec_in_child(bool born_in_cgroup, const bp2::filesystem::path& executable,
                                    const char* const* argv, Inits&... inits) {
        boost::system::error_code failure = join_cgroup_unless(born_in_cgroup);
        reset_signal_handlers();
        if (!failure) {
            ((failure = setup_in_child(inits, *this, executable, argv), !failure) && ...);
        }
        if (!failure) {
            close_launcher_descriptors();
            ::sigprocmask(SIG_SETMASK, &original_mask_, nullptr);
            ::execve(executable.c_str(), const_cast<char* const*>(argv),
                     const_cast<char* const*>(env));
            failure.assign(errno, boost::system::system_category());
        }
        child_error_ = failure;
        ::_exit(127);
    }

    /// In the child, first: into the instance's cgroup while still privileged, so the start
    /// script and everything it starts are members from their first instruction and no fork
    /// can happen outside. A failed move fails the spawn: the operator was told cgroups are on.
    boost::system::error_code join_cgroup_unless(bool born_in_cgroup) const {
        if (born_in_cgroup || cgroup_procs_fd < 0 || ::write(cgroup_procs_fd, "0", 1) == 1) {
            return {};
        }
        return {errno, boost::system::system_category()};
    }

    static void reset_signal_handlers() {
        for (int signal = 1; signal < NSIG; ++signal) {
            struct sigaction current {};
            if (::sigaction(signal, nullptr, &current) == 0 && current.sa_handler != SIG_DFL &&
                current.sa_handler != SIG_IGN) {
                struct sigaction fallback {};
                fallback.sa_handler = SIG_DFL;
                ::sigaction(signal, &fallback, nullptr);
            }
        }
    }

    /// Nothing of the launcher's leaks into the instance, whether or not it was opened CLOEXEC.
    static void close_launcher_descriptors() {
        if (::syscall(SYS_close_range, 3U, ~0U, 0U) == 0) {
            return;
        }
        const long most = ::sysconf(_SC_OPEN_MAX);  // kernels before 5.9 (no close_range)
        for (long fd = 3; fd < (most > 0 ? std::min(most, 1L << 20) : 1024L); ++fd) {
            ::close(static_cast<int>(fd));
        }
    }

    sigset_t original_mask_{};
    boost::system::error_code child_error_;
};

/// Closes the descriptor it holds, if any, when it goes.
struct FileDescriptor {
    int fd = -1;
    FileDescriptor() = default;
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor() {
        if (fd >= 0) {
            ::close(fd);
        }
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
    // The process handle is detached at once and never waited on (the supervisor's one SIGCHLD
    // reaper owns exits): it lives on a context of its own that never runs, so nothing of it
    // touches the supervisor's reactor.
    static boost::asio::io_context spawn_only_context;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "cannot create an output pipe");
    }
    VforkLauncher launcher;
    FileDescriptor cgroup_directory;
    if (spec.cgroup) {
        cgroup_directory.fd =
            ::open(spec.cgroup->directory().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        launcher.cgroup_directory_fd = cgroup_directory.fd;
        launcher.cgroup_procs_fd = spec.cgroup->procs_fd();
    }
    boost::system::error_code ec;
    bp2::process child =
        launcher(spawn_only_context.get_executor(), ec, spec.executable, spec.args,
                 bp2::process_environment(spec.env), bp2::process_start_dir(spec.cwd),
                 bp2::process_stdio{nullptr, fds[1], fds[1]}, NewSessionInit{spec.run_as});
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
