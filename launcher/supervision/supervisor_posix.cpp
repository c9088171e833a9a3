// The supervisor's POSIX events: signals, and the one SIGCHLD reaper for every child.
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <thread>

#include "supervision/supervisor.hpp"

#include "os/wait_status.hpp"

namespace carbon {
namespace {

void ignore_signal(int) {}

/// A write to a closed pipe (`carbon-launcher run 2>&1 | tee log` whose reader went away) must
/// fail with EPIPE, not end the launcher and orphan every instance. A no-op handler rather than
/// SIG_IGN: an ignored signal stays ignored across exec, and the instances' start scripts must
/// get the default SIGPIPE; a caught one is reset to the default in the exec'd program.
void survive_closed_pipes() {
    struct sigaction action {};
    action.sa_handler = ignore_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (::sigaction(SIGPIPE, &action, nullptr) != 0) {
        spdlog::warn("cannot catch SIGPIPE: a closed stderr would end the launcher");
    }
}

}  // namespace

void Supervisor::add_os_signals() {
    survive_closed_pipes();
    for (const int signal : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
        signals_.add(signal);
    }
    if (std::getenv("CARBON_LAUNCHER_TEST_HOOKS") != nullptr) {
        signals_.add(SIGUSR1);  // tests: SIGUSR1 blocks the loop, to show the watchdog stops
    }
}

void Supervisor::on_signal(int signal) {
    switch (signal) {
        case SIGCHLD:
            reap_children();
            break;
        case SIGHUP:
            reload();
            break;
        case SIGUSR1:
            spdlog::warn("test hook: blocking the event loop for 2 s");
            std::this_thread::sleep_for(std::chrono::seconds(2));
            break;
        case SIGINT:
            interrupt();
            break;
        case SIGTERM:
            spdlog::info("SIGTERM: stopping every instance");
            begin_shutdown();
            break;
        default:
            break;
    }
}

// One SIGCHLD may stand for several exits: reap until none is left.
void Supervisor::reap_children() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        // Not ours by pid: an orphan of some instance (reparented to us), now reaped.
        const ExitStatus exit = exit_status_from_wait(status);
        for_each_instance(
            [&](SupervisedProcess& instance) { instance.on_child_reaped(pid, exit); });
    }
    for_each_instance([](SupervisedProcess& instance) { instance.check_group_drained(); });
}

}  // namespace carbon
