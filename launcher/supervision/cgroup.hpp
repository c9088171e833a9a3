#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "profile.hpp"

namespace carbon {

/// How the processes of an instance are held together, decided once per launcher.
enum class ContainmentMode {
    Cgroup,        // Linux, cgroup v2: one cgroup per instance; nothing escapes it
    ProcessGroup,  // Linux without a usable cgroup v2: a process that calls setsid() escapes
    JobObject,     // Windows: one Job Object per instance (spawn_windows.cpp)
};

/// "cgroup", "process-group" or "job-object", as `status --json` shows it.
inline std::string to_string(ContainmentMode mode) {
    switch (mode) {
        case ContainmentMode::Cgroup:
            return "cgroup";
        case ContainmentMode::ProcessGroup:
            return "process-group";
        case ContainmentMode::JobObject:
            return "job-object";
    }
    return "?";
}

/// One instance's cgroup (cgroup v2). Created empty for each run; the child moves itself in
/// before it execs, so the start script and everything it starts, a `setsid` escapee included,
/// is a member from its first instruction on. Removed when the object goes, once it is empty.
class InstanceCgroup {
  public:
    /// Takes over an existing cgroup directory (a crashed launcher's leftover).
    explicit InstanceCgroup(std::filesystem::path directory);
    ~InstanceCgroup();  // rmdir when empty: a populated cgroup stays, with its record
    InstanceCgroup(const InstanceCgroup&) = delete;
    InstanceCgroup& operator=(const InstanceCgroup&) = delete;

    const std::filesystem::path& directory() const { return directory_; }
    /// cgroup.procs opened for writing before the fork: the child writes "0" into it.
    int procs_fd() const { return procs_fd_; }
    /// Opens procs_fd(); throws std::system_error.
    void open_procs_for_child();

    std::vector<int> members() const;
    /// True while any process is in it (zombies are not: the kernel drops them at exit).
    bool populated() const;
    /// True when `pid` is in this cgroup now (listed in its cgroup.procs).
    bool contains(int pid) const;
    /// Sends `signal` to every member whose process group is not `skip_group` (a group the
    /// caller signalled as a whole already; 0: none), each through a pidfd after checking it is
    /// still a member, so a pid reused meanwhile is never hit. Returns how many were signalled.
    int signal_members(int signal, int skip_group = 0) const;
    /// SIGKILL to every member: cgroup.kill (Linux 5.14+), which also catches a fork in flight;
    /// without it, SIGKILL to each member until a pass finds no new one (bounded). Returns how,
    /// for the log line.
    std::string kill() const;
    /// cgroup.events, whose "populated" changes are inotify events (IN_MODIFY).
    std::filesystem::path events_file() const { return directory_ / "cgroup.events"; }

  private:
    std::filesystem::path directory_;
    int procs_fd_ = -1;
};

/// Where the instances' cgroups live (see README, "Containment"): OWN/carbon-launcher-HASH/NAME,
/// OWN being the launcher's own cgroup (/proc/self/cgroup, under the cgroup2 mount found in
/// /proc/self/mountinfo) and HASH a hash of the state dir.
/// - In a cgroup delegated to it (a systemd unit with Delegate=yes), the launcher first moves
///   itself into OWN/supervisor (no processes in an inner cgroup) and enables for its instances
///   the memory and pids controllers it was given.
/// - As root elsewhere, with a writable cgroup2 mount, it stays where it is and enables only
///   what OWN already passes down: OWN is not its to change.
/// - Otherwise: process groups (job objects on Windows), with the reason.
class Containment {
  public:
    /// Never throws: whatever prevents cgroups becomes the reason for process-group mode.
    static std::shared_ptr<Containment> set_up(const std::filesystem::path& state_dir);
    /// A mode without cgroups (job objects on Windows), with the reason.
    Containment(ContainmentMode mode, std::string reason);
    ~Containment();  // removes the subtree once empty
    Containment(const Containment&) = delete;
    Containment& operator=(const Containment&) = delete;

    ContainmentMode mode() const { return mode_; }
    /// For the start-up log line: where the cgroups are, or why there are none.
    std::string describe() const;
    /// {"mode", "cgroup" (the subtree or null), "reason", "controllers"} for `status --json`.
    nlohmann::json status() const;

    /// A fresh, empty cgroup for one run of `name` with its limits, ready for the child to join;
    /// nullptr when not in cgroup mode. Limits that cannot be applied are logged once per
    /// instance. Throws std::system_error when the cgroup cannot be made (or holds processes).
    std::shared_ptr<InstanceCgroup> create(const std::string& name, const ResourceLimits& limits);

    /// True when `directory` (from a record) is a cgroup this launcher would make for instance
    /// `name`: one under the cgroup2 mount, in a subtree named after this state dir.
    bool may_hold(const std::filesystem::path& directory, const std::string& name) const;
    /// Populated instance cgroups in this launcher's subtree: an earlier launcher's, whether or
    /// not their records survived.
    std::vector<std::filesystem::path> populated_instance_cgroups() const;

  private:
    Containment() = default;
    std::string try_cgroups();
    void apply_limits(const InstanceCgroup& cgroup, const std::string& name,
                      const ResourceLimits& limits);
    void remove_empty_subtree() const;

    ContainmentMode mode_ = ContainmentMode::ProcessGroup;
    std::string reason_;               // why not cgroups; in cgroup mode, why limits may not apply
    std::filesystem::path state_dir_;  // absolute and canonical: the subtree's name is its hash
    std::filesystem::path mount_point_;    // "" when there is no cgroup2 mount
    std::filesystem::path subtree_;        // OWN/carbon-launcher-HASH in cgroup mode
    std::set<std::string> controllers_;    // enabled for the instances (memory, pids)
    std::set<std::string> limits_warned_;  // "NAME" or "NAME/field": each warned once
};

}  // namespace carbon
