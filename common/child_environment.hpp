#pragma once

#include <map>
#include <string>
#include <vector>

#include "profile.hpp"

namespace carbon {

/// The environment of one instance's start script, as "NAME=value" entries: the launcher's own
/// environment without any CARBON_HOME / RUNTIME_HOME / JAVA_HOME of its own (one instance's
/// home must never leak into another), then JAVA_HOME (the profile's, else the launcher's),
/// PATH with $JAVA_HOME/bin first, CARBON_HOME (and RUNTIME_HOME for the SI family) set to the
/// instance's home, and the profile's "env" on top. On Windows names are compared without case
/// and PATH uses ';' and JAVA_HOME\bin.
std::vector<std::string> child_environment(const Profile& profile,
                                           const std::map<std::string, std::string>& launcher_env,
                                           Platform platform = host_platform());

/// The current process's environment as a map.
std::map<std::string, std::string> current_environment();

}  // namespace carbon
