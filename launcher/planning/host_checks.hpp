#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "host_check.hpp"
#include "planning/planning.hpp"

namespace carbon {

/// Every host check over `instances` of a planned session, with this host's figures.
CheckReport check_instances(const std::vector<const InstancePlan*>& instances,
                            const std::filesystem::path& state_dir);

/// What `run` and `apply` do before they write or start anything, over the autostarted
/// instances: warnings go to `warn`, failures throw ExitError (69) naming each one, so nothing
/// is half done.
void require_host_checks(const PlanningSession& session, const std::filesystem::path& state_dir,
                         const std::function<void(const std::string&)>& warn);

}  // namespace carbon
