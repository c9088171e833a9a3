#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/cli_options.hpp"
#include "offset_planner.hpp"
#include "offset_state.hpp"
#include "port_table.hpp"
#include "profile.hpp"

namespace carbon {

/// Everything a command needs once profiles are loaded and offsets planned. Profiles point into
/// the catalog and the plan into the profiles, so the three live together.
struct PlanningSession {
    RuntimeCatalog catalog;
    std::vector<Profile> profiles;
    Plan plan;
};

/// Loads the port tables and the profiles, without planning. Throws ConfigError for bad input.
std::unique_ptr<PlanningSession> load_session(const CommonOptions& options);

/// The one planning step of every command (plan, apply, run, reload): the session's profiles
/// against the sticky offsets and the host's ports as `host` sees them.
void plan_session(PlanningSession& session, const StickyOffsets& sticky, const PortProbe& host);

/// load_session, then plan_session with the state dir's sticky offsets and the host's ports, the
/// ports of the instances a launcher on that state dir runs now counting as their own.
std::unique_ptr<PlanningSession> plan_from_options(const CommonOptions& options);

/// The planned instances named `names` (all when empty), in the order given; an unknown name
/// is a UsageError for `command`, with a "did you mean".
std::vector<const InstancePlan*> select_instances(const Plan& plan,
                                                  const std::vector<std::string>& names,
                                                  const std::string& command);

/// The lines that explain a plan's conflicts, in every place that meets them: each conflict,
/// then `consequence` (what was not done).
std::vector<std::string> describe_plan_conflicts(const Plan& plan, const std::string& consequence);

/// Prints describe_plan_conflicts(plan, "nothing was written") to stderr.
void report_plan_conflicts(const Plan& plan);

}  // namespace carbon
