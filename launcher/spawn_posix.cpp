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

#include "proc_stat.hpp"
#include "process_probe.hpp"
#include "spawn.hpp"

namespace bp2 = boost::process::v2;

namespace carbon {
namespace {

/// Runs in the child between fork and exec.
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

}  // namespace

struct ChildGroup::Native {
    int pid = -1;  // also the process group id: the child leads a new session
    int output_fd = -1;
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
                       bp2::process_stdio{nullptr, fds[1], fds[1]}, NewSessionInit{spec.run_as});
    ::close(fds[1]);
    if (ec) {
        ::close(fds[0]);
        throw std::system_error(ec.value(), std::generic_category(),
                                "cannot start " + spec.executable.string());
    }
    native_->pid = child.id();
    native_->output_fd = fds[0];
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

std::string ChildGroup::request_stop() {
    signal_group(native_->pid, SIGTERM);
    return "SIGTERM to process group " + std::to_string(native_->pid);
}

std::string ChildGroup::kill() {
    signal_group(native_->pid, SIGKILL);
    return "SIGKILL to process group " + std::to_string(native_->pid);
}

bool ChildGroup::alive() const {
    return group_alive(native_->pid);
}

bool ChildGroup::contains(int pid) const {
    const auto stat = read_proc_stat(pid);
    return stat && stat->pgrp == native_->pid;
}

std::string ChildGroup::describe() const {
    return "process group " + std::to_string(native_->pid);
}

int current_pid() {
    return ::getpid();
}

}  // namespace carbon
