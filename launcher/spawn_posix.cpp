// The only translation unit that includes Boost.Process v2 (it compiles slowly).
#include <fcntl.h>
#include <grp.h>
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

Spawned spawn_in_new_session(const SpawnSpec& spec) {
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
    const int pid = child.id();
    child.detach();  // our SIGCHLD reaper owns the exit status, not this handle
    return {pid, fds[0]};
}

}  // namespace carbon
