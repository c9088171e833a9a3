#pragma once

#include <filesystem>
#include <set>
#include <vector>

#include "instance_record.hpp"

namespace carbon {

/// The processes of the instances that a launcher on `state_dir` runs now, found from their
/// records in STATE/instances: the members of a record's cgroup, or of its process group while
/// the group's leader is still the recorded script (same pid and start time). A `plan`, `check`,
/// `apply` or `export` run beside the service uses it so that the ports the service's own JVMs
/// hold count as theirs, not as a foreign holder. Empty where nothing runs, or where records
/// cannot be matched to processes (Windows: see the sibling).
std::set<int> running_instance_processes(const std::filesystem::path& state_dir);

/// One record of STATE/instances and the file it was read from.
struct RecordFile {
    std::filesystem::path file;
    InstanceRecord record;
};

/// The readable, well-formed records in STATE/instances. Unreadable and damaged ones are skipped:
/// their ports stay foreign, as the plan then shows, and reporting them is the leftover check's
/// job (leftovers_linux.cpp), not the planner's.
std::vector<RecordFile> read_instance_records(const std::filesystem::path& state_dir);

}  // namespace carbon
