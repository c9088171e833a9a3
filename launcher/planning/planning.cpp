#include "planning/planning.hpp"

#include <iostream>

#include "cli/usage_error.hpp"
#include "diagnostics.hpp"
#include "os/host_facts.hpp"
#include "os/host_ports.hpp"
#include "os/paths.hpp"
#include "planning/running_instances.hpp"
#include "planning/start_guard.hpp"
#include "planning/state_store.hpp"

namespace carbon {

std::unique_ptr<PlanningSession> load_session(const CommonOptions& options) {
    auto session = std::make_unique<PlanningSession>();
    session->catalog = RuntimeCatalog::load(find_runtimes_dir(options.runtimes_dir));
    session->profiles = load_profiles(options.profiles(), session->catalog);
    require_homes_safe_to_start(session->profiles);  // a .bat's blind tmp wipe: before any start
    return session;
}

void plan_session(PlanningSession& session, const StickyOffsets& sticky, const PortProbe& host) {
    // Keep ports out of the ephemeral range where an offset allows (check warns otherwise), and
    // auto offsets out of ranges where nothing can bind (Windows; check fails explicit ones).
    session.plan = plan_offsets(session.profiles, sticky, host, read_plan_preferences());
}

std::unique_ptr<PlanningSession> plan_from_options(const CommonOptions& options) {
    auto session = load_session(options);
    // Beside a running service, its own JVMs hold their planned ports: those are not conflicts.
    const auto running = running_instance_processes(options.state());
    const HostPortsExcept host([&running](int pid) { return running.contains(pid); });
    plan_session(*session, load_sticky_offsets(options.state()), host);
    return session;
}

std::vector<const InstancePlan*> select_instances(const Plan& plan,
                                                  const std::vector<std::string>& names,
                                                  const std::string& command) {
    std::vector<const InstancePlan*> selected;
    std::vector<std::string> known;
    for (const auto& instance : plan.instances) {
        known.push_back(instance.profile->name);
    }
    for (const auto& name : names) {
        const InstancePlan* instance = plan.find(name);
        if (instance == nullptr) {
            throw UsageError(command + ": no instance named \"" + name + "\"" +
                             did_you_mean(name, known));
        }
        selected.push_back(instance);
    }
    if (names.empty()) {
        for (const auto& instance : plan.instances) {
            selected.push_back(&instance);
        }
    }
    return selected;
}

std::vector<std::string> describe_plan_conflicts(const Plan& plan, const std::string& consequence) {
    std::vector<std::string> lines;
    for (const auto& conflict : plan.conflicts) {
        lines.push_back(conflict.message);
    }
    lines.push_back("the plan has conflicts; " + consequence + " (see carbon-launcher plan)");
    return lines;
}

void report_plan_conflicts(const Plan& plan) {
    for (const auto& line : describe_plan_conflicts(plan, "nothing was written")) {
        std::cerr << "carbon-launcher: error: " << line << "\n";
    }
}

}  // namespace carbon
