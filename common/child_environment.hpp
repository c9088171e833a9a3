#pragma once

#include <map>
#include <string>
#include <vector>

#include "profile.hpp"

namespace carbon {

/// The environment of one instance's start script, as "NAME=value" entries: the launcher's own
/// environment without any CARBON_HOME / RUNTIME_HOME / JAVA_HOME of its own (one instance's
/// home must never leak into another), then JAVA_HOME (the profile's, else the launcher's),
/// PATH with $JAVA_HOME/bin first, CARBON_HOME set to the instance's home, and the profile's
/// "env" on top. RUNTIME_HOME is never set: SI's scripts default it to HOME/wso2/server, and
/// Carbon 5 takes the runtime name (hence conf/<name>/deployment.yaml) from its folder name, so
/// RUNTIME_HOME=HOME would make the JVM ignore the patched deployment.yaml (DOMAIN.md §3). For
/// the same reason an inherited RUNTIME, which carbon.sh prefers as the runtime name, is removed
/// for SI and Tooling. On Windows names are compared without case
/// and PATH uses ';' and JAVA_HOME\bin.
std::vector<std::string> child_environment(const Profile& profile,
                                           const std::map<std::string, std::string>& launcher_env,
                                           Platform platform = host_platform());

}  // namespace carbon
