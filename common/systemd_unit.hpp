#pragma once

#include <string>
#include <vector>

#include "offset_planner.hpp"

namespace carbon {

/// systemd's unit name for an exported instance: carbon-NAME.service.
std::string exported_unit_name(const std::string& instance);

/// A unit that lets systemd itself supervise one instance at its planned offset: the start
/// script in the foreground, 121 forces a restart, 143 (a JVM after SIGTERM) is a clean exit,
/// the whole control group is stopped, After=/Wants= from the profile's "after".
/// `environment` holds "NAME=value" entries for Environment=.
std::string render_instance_unit(const InstancePlan& instance,
                                 const std::vector<std::string>& environment);

}  // namespace carbon
