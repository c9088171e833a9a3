// The supervisor's Windows events. Child exits arrive through each ChildGroup's waits on the
// loop (spawn_windows.cpp), so there is no reaper; the C runtime turns Ctrl-C and Ctrl-Break
// into SIGINT and SIGBREAK. A service stop arrives through request_shutdown().
#include <spdlog/spdlog.h>

#include <csignal>

#include "supervision/supervisor.hpp"

namespace carbon {

void Supervisor::add_os_signals() {
    signals_.add(SIGINT);
    signals_.add(SIGBREAK);
    signals_.add(SIGTERM);
}

void Supervisor::on_signal(int signal) {
    if (signal == SIGTERM) {
        spdlog::info("SIGTERM: stopping every instance");
        begin_shutdown();
        return;
    }
    interrupt();  // Ctrl-C or Ctrl-Break: graceful, a second one kills
}

void Supervisor::reap_children() {}  // nothing to reap on Windows

}  // namespace carbon
