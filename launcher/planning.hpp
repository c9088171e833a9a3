#pragma once

#include <memory>
#include <vector>

#include "cli_options.hpp"
#include "offset_planner.hpp"
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

/// Loads the port tables, the profiles and the sticky offsets, probes the host's ports and plans.
/// Throws ConfigError for bad input.
std::unique_ptr<PlanningSession> plan_from_options(const CommonOptions& options);

/// Prints every conflict of a failed plan to stderr, then that nothing was written.
void report_plan_conflicts(const Plan& plan);

}  // namespace carbon
