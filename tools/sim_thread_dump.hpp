// The thread dump carbon-sim prints on SIGQUIT (Linux) or CTRL_BREAK (Windows), in HotSpot's format
// (tools/SIMULATION.md [F17]): what a supervisor captures from a real JVM before it kills one.
#pragma once

#include <string>
#include <vector>

namespace carbon_sim {

/// What the dump shows of the simulated JVM.
struct DumpSubject {
    long pid = 0;                 // the nid of "main"
    double uptime_s = 0;          // the threads' elapsed=
    std::vector<int> http_ports;  // one Tomcat acceptor thread per servlet port
    bool deadlocked = false;      // hung (hang_after_ms): a monitor deadlock, a request behind it
};

/// The whole dump, ending with a blank line, as one block of text. `local_time` is its first line
/// ("YYYY-MM-DD HH:MM:SS", as HotSpot prints it).
std::string thread_dump(const DumpSubject& subject, const std::string& local_time);

/// The current local time in the dump's first-line format.
std::string dump_local_time();

}  // namespace carbon_sim
