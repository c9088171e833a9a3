#pragma once

#include <string>
#include <vector>

#include "planning/planning.hpp"

namespace carbon {

/// `carbon-launcher check [NAME...] [--json]`.
int cmd_check(const std::vector<std::string>& args);

/// `carbon-launcher export sysctl`: the sysctl.d drop-in that reserves the planned ports.
int export_sysctl(const PlanningSession& session, const std::string& out_dir);

}  // namespace carbon
