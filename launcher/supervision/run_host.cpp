#include "supervision/run_host.hpp"

#include "child_environment.hpp"
#include "launch_spec.hpp"
#include "os/environment.hpp"
#include "os/host_ports.hpp"
#include "os/port_check.hpp"
#include "os/process_probe.hpp"
#include "planning/start_guard.hpp"
#include "supervision/cgroup.hpp"

namespace carbon {
namespace {

std::string home_running_elsewhere(const Profile& profile) {
    if (profile.table->pid_file.empty()) {
        return "";
    }
    const auto pid = live_runtime_pid(profile.home / profile.table->pid_file, profile.home);
    return pid ? "the home is already running outside this launcher: its pid file names live "
                 "process " +
                     std::to_string(*pid)
               : "";
}

// Only the ports the runtime opens by default: one held by another process would end the JVM
// with a bind error anyway, after a slow start.
std::string held_port(const Profile& profile, int offset) {
    for (const auto& port : profile.ports) {
        const int effective = port.effective(offset);
        if (port.reserved && port.default_open && port_in_use(effective)) {
            const HostPorts host;
            return "port " + std::to_string(effective) + " (" + port.purpose + ") is held by " +
                   (host.is_held(effective) ? host.holder(effective).describe()
                                            : "another process");
        }
    }
    return "";
}

}  // namespace

OsRunHost::OsRunHost(std::shared_ptr<Containment> containment)
    : containment_(std::move(containment)) {}

std::optional<StartRefusal> OsRunHost::refuse_start(const Profile& profile, int offset) {
    if (std::string problem = prepare_home_for_start(profile); !problem.empty()) {
        return StartRefusal{ExitReason::SpawnFailed, std::move(problem)};
    }
    if (std::string running = home_running_elsewhere(profile); !running.empty()) {
        return StartRefusal{ExitReason::PortConflict, std::move(running)};
    }
    if (std::string held = held_port(profile, offset); !held.empty()) {
        return StartRefusal{ExitReason::PortConflict, std::move(held)};
    }
    return std::nullopt;
}

std::unique_ptr<ProcessGroup> OsRunHost::spawn(boost::asio::io_context& io, const Profile& profile,
                                               int offset) {
    SpawnSpec spec;
    const auto argv = launch_argv(profile, offset);
    spec.executable = argv.front();
    spec.args.assign(argv.begin() + 1, argv.end());
    spec.env = child_environment(profile, current_environment());
    spec.cwd = profile.home;
    spec.cgroup = containment_->create(profile.name, profile.limits);  // a fresh one per run
    return std::make_unique<ChildGroup>(io, spec);
}

}  // namespace carbon
