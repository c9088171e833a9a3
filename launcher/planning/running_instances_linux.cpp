#include <filesystem>
#include <string>

#include "cgroup_paths.hpp"
#include "os/process_probe.hpp"
#include "planning/running_instances.hpp"
#include "text_file.hpp"

namespace carbon {
namespace {

/// The processes a record names, or none when its group is no longer the recorded one. Read
/// only: unlike the leftover check, nothing here signals or removes anything.
std::set<int> processes_of(const InstanceRecord& record) {
    std::set<int> pids;
    if (!record.cgroup.empty()) {
        // The kernel never reuses a cgroup, so whatever is in it belongs to the instance.
        std::string error;
        if (const auto procs = read_text_file(record.cgroup / "cgroup.procs", error)) {
            for (const int pid : parse_cgroup_procs(*procs)) {
                pids.insert(pid);
            }
        }
        return pids;
    }
    const auto leader = read_proc_stat(record.pgid);
    if (record.pid <= 1 || record.pid != record.pgid || !leader ||
        leader->start_time != record.start_time) {
        return pids;  // the script is gone or its pid was reused: its group proves nothing
    }
    for (const int pid : group_members(record.pgid)) {
        pids.insert(pid);
    }
    return pids;
}

}  // namespace

std::set<int> running_instance_processes(const std::filesystem::path& state_dir) {
    std::set<int> pids;
    for (const auto& [file, record] : read_instance_records(state_dir)) {
        pids.merge(processes_of(record));
    }
    return pids;
}

}  // namespace carbon
