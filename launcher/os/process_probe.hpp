#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace carbon {

/// The pid in a runtime's pid file (API-M pads it with NUL bytes), if the file exists and a
/// live process with that pid mentions `home` on its command line (a stale pid file whose pid
/// was reused by something else does not count).
std::optional<int> live_runtime_pid(const std::filesystem::path& pid_file,
                                    const std::filesystem::path& home);

/// A file's modification time and size from one stat (GetFileAttributesEx on Windows), to tell
/// cheaply whether it changed; nullopt when it is missing or not a regular file.
struct FileStamp {
    std::int64_t mtime_ns = 0;
    std::int64_t size = 0;
    bool operator==(const FileStamp&) const = default;
};
std::optional<FileStamp> file_stamp(const std::filesystem::path& file);

}  // namespace carbon

#include <vector>

#include "proc_stat.hpp"

namespace carbon {

std::optional<ProcStat> read_proc_stat(int pid);

/// Every live process whose process group is `pgid` (a /proc scan).
std::vector<int> group_members(int pgid);

/// True while any process of the group exists (zombies included until reaped).
bool group_alive(int pgid);

/// Sends `signal` to the whole process group; a group already gone is not an error.
void signal_group(int pgid, int signal);

/// Makes orphaned descendants (a JVM whose start script died) children of this process, so they
/// are reaped here and cannot escape supervision. Returns false where the OS has no such thing.
bool become_child_subreaper();

}  // namespace carbon
