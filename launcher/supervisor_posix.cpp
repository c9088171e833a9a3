// The supervisor's POSIX events: signals, and the one SIGCHLD reaper for every child.
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <thread>

#include "supervisor.hpp"

namespace carbon {

void Supervisor::add_os_signals() {
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
        const ExitStatus exit = ExitStatus::from_wait_status(status);
        for_each_instance(
            [&](SupervisedProcess& instance) { instance.on_child_reaped(pid, exit); });
    }
    for_each_instance([](SupervisedProcess& instance) { instance.check_group_drained(); });
}

}  // namespace carbon
