#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace carbon {

/// One cgroup v2 mount from /proc/self/mountinfo.
struct Cgroup2Mount {
    std::filesystem::path mount_point;  // /sys/fs/cgroup, or /sys/fs/cgroup/unified (hybrid)
    std::string root;                   // the part of the hierarchy mounted there, usually "/"
    bool read_only = false;             // the mount's own "ro" (ProtectControlGroups=, a container)
};

/// Every cgroup2 mount in /proc/self/mountinfo text, in order. Mount points are unescaped
/// (\040 is a space); malformed lines are skipped.
std::vector<Cgroup2Mount> parse_cgroup2_mounts(std::string_view mountinfo);

/// The process's cgroup v2 path from /proc/PID/cgroup text: the "0::" line, e.g.
/// "/system.slice/carbon-launcher.service"; nullopt when there is none (cgroup v1 only).
std::optional<std::string> parse_unified_cgroup(std::string_view proc_cgroup);

/// The directory of `cgroup` (a hierarchy path such as "/a/b") under `mount`, or nullopt when
/// that mount does not show it (its root is elsewhere) or the path is not a plain absolute path.
std::optional<std::filesystem::path> cgroup_directory(const Cgroup2Mount& mount,
                                                      const std::string& cgroup);

/// The mount through which `cgroup` is reachable, preferring a writable one; nullopt if none.
std::optional<Cgroup2Mount> choose_cgroup2_mount(const std::vector<Cgroup2Mount>& mounts,
                                                 const std::string& cgroup);

/// The pids in cgroup.procs text, one per line; anything that is not a pid is skipped.
std::vector<int> parse_cgroup_procs(std::string_view text);

/// The "populated" field of cgroup.events text; nullopt when it is missing.
std::optional<bool> parse_cgroup_populated(std::string_view events);

/// The controller names in cgroup.controllers (or cgroup.subtree_control) text.
std::set<std::string> parse_cgroup_controllers(std::string_view text);

/// The name of the cgroup a launcher creates under its own to hold its instances' cgroups:
/// "carbon-launcher-" and 16 hex digits of a hash of its state dir. One launcher per state dir
/// (the lock), so two launchers never share it, even in one delegated cgroup, and a launcher
/// started after a crash finds the cgroups its predecessor left.
std::string launcher_cgroup_name(const std::filesystem::path& state_dir);

/// The leaf a launcher in a delegated cgroup moves itself into: a cgroup with children may not
/// hold processes once controllers are enabled for them (the no-internal-processes rule).
inline constexpr const char* kLauncherLeafName = "supervisor";

/// True when `directory` (from an instance record) can be the cgroup of instance `name` that a
/// launcher on `state_dir` made: a plain absolute path under `mount_point`, named after the
/// instance, whose parent is launcher_cgroup_name(state_dir). A record that names any other
/// cgroup is not acted on: signalling its members could hit a stranger's service.
bool is_instance_cgroup_of(const std::filesystem::path& directory, const std::string& name,
                           const std::filesystem::path& mount_point,
                           const std::filesystem::path& state_dir);

/// A memory size as a profile gives it for memory.max: a number of bytes, or a number with a
/// K, M, G or T suffix (powers of 1024, as systemd's MemoryMax=). nullopt when it is not one
/// (also on overflow); "max" is handled by the caller.
std::optional<std::uint64_t> parse_memory_size(std::string_view text);

}  // namespace carbon
