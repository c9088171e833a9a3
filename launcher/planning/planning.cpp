#include "planning/planning.hpp"

#include <iostream>

#include "os/host_ports.hpp"
#include "os/paths.hpp"
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
    session.plan = plan_offsets(session.profiles, sticky, host);
}

std::unique_ptr<PlanningSession> plan_from_options(const CommonOptions& options) {
    auto session = load_session(options);
    plan_session(*session, load_sticky_offsets(options.state()), HostPorts());
    return session;
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
