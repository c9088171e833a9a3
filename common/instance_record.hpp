#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace carbon {

/// What the launcher writes to STATE/instances/NAME.json while an instance's process group is
/// alive, so that a launcher started after a crash finds leftovers by pid *and* start time (a
/// pid alone may have been reused).
struct InstanceRecord {
    std::string name;
    int pid = 0;  // the start script, leader of the group
    int pgid = 0;
    std::uint64_t start_time = 0;
    int offset = 0;
    std::filesystem::path home;
    int launcher_pid = 0;
    /// The instance's cgroup directory when it runs in one: every process left in it is a
    /// leftover, whatever its process group ("" in process-group mode and in older records).
    std::filesystem::path cgroup{};  // {}: older aggregate initialisers stay complete
};

std::string render_instance_record(const InstanceRecord& record);
/// Throws ConfigError naming `source` for a damaged record.
InstanceRecord parse_instance_record(const std::string& text, const std::filesystem::path& source);

}  // namespace carbon
