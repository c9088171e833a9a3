#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "host_check.hpp"

namespace carbon {

/// The host's figures for `check`: memory, ephemeral ports, limits, host name, the state dir.
/// Linux reads /proc, /sys/fs/cgroup and getrlimit; Windows GlobalMemoryStatusEx and netsh's
/// dynamic and excluded port ranges.
HostFacts read_host_facts(const std::filesystem::path& state_dir);

/// The host's port ranges the planner weighs (PlanPreferences), each left empty where it cannot
/// be read:
/// - ephemeral: net.ipv4.ip_local_port_range; on Windows the dynamic port range (`netsh int ipv4
///   show dynamicport tcp`);
/// - reserved: net.ipv4.ip_local_reserved_ports; on Windows the administered excluded port
///   ranges (`netsh int ipv4 show excludedportrange protocol=tcp`, marked "*");
/// - unbindable: on Windows the excluded port ranges that are not administered (taken at boot by
///   Hyper-V, WSL or Docker's NAT); Linux has none.
PlanPreferences read_plan_preferences();

/// One planned instance's JDK, script, environment and disk, as its start will see them.
InstanceFacts read_instance_facts(const InstancePlan& plan,
                                  const std::map<std::string, std::string>& launcher_env);

// Platform siblings (host_facts_linux.cpp, host_facts_windows.cpp).

/// Memory, ephemeral ports, limits and cgroup of this host.
void read_platform_host_facts(HostFacts& facts);
/// The version `java -version` prints, run bounded in time; "" with `error` set on failure.
std::string run_java_version(const std::filesystem::path& java, std::string& error);
/// An identifier shared by paths on the same filesystem ("" when unknown).
std::string filesystem_of(const std::filesystem::path& path);

/// Where host files are read from: "/" normally; with CARBON_LAUNCHER_TEST_HOOKS=1, the folder
/// named by CARBON_LAUNCHER_TEST_ROOT (a fake /proc and /sys tree for end-to-end tests).
std::filesystem::path host_files_root();
/// CARBON_LAUNCHER_TEST_ROOT when CARBON_LAUNCHER_TEST_HOOKS=1, else nullopt. On Windows its
/// netsh\dynamicport.txt and netsh\excludedportrange.txt stand in for netsh's output.
std::optional<std::filesystem::path> test_hooks_root();

}  // namespace carbon
