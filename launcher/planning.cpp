#include "planning.hpp"

#include <iostream>

#include "host_ports.hpp"
#include "paths.hpp"
#include "start_guard.hpp"
#include "state_store.hpp"

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

void report_plan_conflicts(const Plan& plan) {
    for (const auto& conflict : plan.conflicts) {
        std::cerr << "carbon-launcher: error: " << conflict.message << "\n";
    }
    std::cerr << "carbon-launcher: error: the plan has conflicts; nothing was written (see "
                 "carbon-launcher plan)\n";
}

}  // namespace carbon
