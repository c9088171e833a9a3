#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_options.hpp"
#include "control/control_server.hpp"
#include "fleet_order.hpp"
#include "os/service_notifier.hpp"
#include "planning/planning.hpp"
#include "supervision/cgroup.hpp"
#include "supervision/leftovers.hpp"
#include "supervision/run_host.hpp"
#include "supervision/supervised_process.hpp"

namespace carbon {

/// Where the supervisor meets the OS for its instances: the containment it decides on once,
/// and the host that spawns each run inside it. Empty: the real ones (Containment::set_up,
/// OsRunHost); unit tests give fakes, so no process is started.
struct SupervisorSeams {
    std::function<std::shared_ptr<Containment>(const std::filesystem::path& state_dir)> containment;
    std::function<std::shared_ptr<RunHost>(std::shared_ptr<Containment>)> host;
};

/// Owns every instance on one io_context: starts them in `after` order once their config is
/// written, reaps every child (it is the child subreaper), stops them in reverse order on
/// SIGTERM/SIGINT (a second SIGINT kills), and reloads the profiles on SIGHUP.
class Supervisor : public ControlHandler {
  public:
    Supervisor(boost::asio::io_context& io, CommonOptions options, SupervisorSeams seams = {});
    ~Supervisor();

    /// Plans, writes configs and starts; returns the exit code once everything has stopped.
    /// Throws ConfigError (bad profiles or configs) before anything is started.
    int run();

    ControlReply handle(const ControlRequest& request, ControlSession& session) override;

    /// From any thread (the Windows service control handler): stop every instance and return
    /// from run() once they are down.
    void request_shutdown();

  private:
    nlohmann::json instance_status(const SupervisedProcess& instance) const;
    std::string status_page(const ControlRequest& request) const;
    std::string status_text(const std::string& name, const SupervisedProcess& instance) const;
    nlohmann::json launcher_status() const;
    nlohmann::json live_status(const SupervisedProcess& instance) const;
    /// Why an instance due to start has not: what it comes `after` that is not Running, and the
    /// groups a reload is still stopping. "" when nothing holds it.
    std::string waiting_for(const SupervisedProcess& instance) const;
    nlohmann::json static_status(const SupervisedProcess& instance) const;
    std::vector<SupervisedProcess*> named_instances(const std::vector<std::string>& names,
                                                    bool empty_means_all);
    void start_supervising(std::shared_ptr<PlanningSession> session);
    void adopt_plan(const std::shared_ptr<PlanningSession>& session);
    void add_instance(const InstancePlan& planned, std::shared_ptr<PlanningSession> session);
    // The platform's half (supervisor_posix.cpp, supervisor_windows.cpp).
    void add_os_signals();
    void on_signal(int signal);
    void reap_children();

    void wait_for_signals();
    void interrupt();
    void for_each_instance(const std::function<void(SupervisedProcess&)>& action);
    void on_state_change(SupervisedProcess& instance);
    void start_what_is_due();
    void stop_what_is_due();
    FleetOrder fleet_order() const;
    nlohmann::json thread_dumps(const std::vector<std::string>& names);
    void begin_shutdown();
    void finish_if_all_down();
    /// Takes the profiles again; says what it did (SIGHUP ignores it, the control socket sends it).
    ReloadResult reload();
    /// Stops an instance a reload removed or replaced; it stays in retiring_ until its group is
    /// gone, and one with nothing running (Stopped, Exited, Fatal) goes at once.
    void retire(std::unique_ptr<SupervisedProcess> instance);
    /// Takes a retired instance whose group is gone out of retiring_, then starts what was
    /// waiting for it.
    void forget_retired(const SupervisedProcess* gone);
    /// True when `pid` belongs to one of the launcher's instances, current or retiring.
    bool owns_process(int pid) const;
    void update_service_status();
    void keep_service_manager_waiting();
    InstancePaths paths_for(const std::string& name) const;

    boost::asio::io_context& io_;
    CommonOptions options_;
    SupervisorSeams seams_;
    boost::asio::signal_set signals_;
    /// Cgroups or process groups, decided once at start; outlives the instances (declared first).
    std::shared_ptr<Containment> containment_;
    std::shared_ptr<RunHost> host_;  // spawns the instances' runs inside containment_
    std::map<std::string, std::unique_ptr<SupervisedProcess>> instances_;
    std::vector<std::unique_ptr<SupervisedProcess>> retiring_;  // removed or replaced by a reload
    std::map<std::string, std::string> placements_;             // by name: offset and peer wiring

    /// While set, the first phase runs: an earlier launcher's leftovers are being stopped and
    /// nothing of ours has started yet.
    std::unique_ptr<LeftoverCleanup> leftovers_;
    std::unique_ptr<ControlServer> control_;
    ServiceNotifier notifier_;
    boost::asio::steady_timer extend_timer_;  // EXTEND_TIMEOUT_USEC while starting or stopping
    bool announced_ready_ = false;
    mutable std::map<std::string, std::string> static_status_text_;  // by name, serialized once
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    bool shutting_down_ = false;
    int interrupts_ = 0;
    int exit_code_ = 0;
};

}  // namespace carbon
