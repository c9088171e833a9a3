// Windows keeps no process groups and the instances' Job Objects are unnamed (their only handle
// is the launcher's, which is what ends them with it), so a record's processes are found as the
// live descendants of its start script, from one Toolhelp snapshot.
// clang-format off
#include <windows.h>
#include <tlhelp32.h>
// clang-format on

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "planning/running_instances.hpp"

namespace carbon {
namespace {

std::optional<ULONGLONG> creation_time(DWORD pid) {
    HANDLE process = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (process == nullptr) {
        return std::nullopt;
    }
    FILETIME created{}, exited{}, kernel{}, user{};
    const bool known = ::GetProcessTimes(process, &created, &exited, &kernel, &user) != 0;
    ::CloseHandle(process);
    if (!known) {
        return std::nullopt;
    }
    return (static_cast<ULONGLONG>(created.dwHighDateTime) << 32) | created.dwLowDateTime;
}

/// parent pid -> its children, as the snapshot saw them.
std::multimap<DWORD, DWORD> children_by_parent() {
    std::multimap<DWORD, DWORD> children;
    HANDLE snapshot = ::CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (snapshot == INVALID_HANDLE_VALUE) {
        return children;
    }
    PROCESSENTRY32W entry{};
    entry.dwSize = sizeof(entry);
    for (BOOL more = ::Process32FirstW(snapshot, &entry); more;
         more = ::Process32NextW(snapshot, &entry)) {
        children.emplace(entry.th32ParentProcessID, entry.th32ProcessID);
    }
    ::CloseHandle(snapshot);
    return children;
}

/// The file's last write time, in the units of creation_time().
std::optional<ULONGLONG> record_written_at(const std::filesystem::path& file) {
    WIN32_FILE_ATTRIBUTE_DATA attributes{};
    if (!::GetFileAttributesExW(file.wstring().c_str(), GetFileExInfoStandard, &attributes)) {
        return std::nullopt;
    }
    const FILETIME& written = attributes.ftLastWriteTime;
    return (static_cast<ULONGLONG>(written.dwHighDateTime) << 32) | written.dwLowDateTime;
}

/// `root` and its descendants. A parent pid in the snapshot may name a process that died and
/// whose pid was reused, so a child counts only when it was created after its parent.
void add_descendants(DWORD root, const std::multimap<DWORD, DWORD>& children, std::set<int>& pids) {
    const auto root_created = creation_time(root);
    if (!root_created || !pids.insert(static_cast<int>(root)).second) {
        return;
    }
    const auto [first, last] = children.equal_range(root);
    for (auto child = first; child != last; ++child) {
        const auto child_created = creation_time(child->second);
        if (child_created && *child_created >= *root_created) {
            add_descendants(child->second, children, pids);
        }
    }
}

}  // namespace

std::set<int> running_instance_processes(const std::filesystem::path& state_dir) {
    std::set<int> pids;
    std::optional<std::multimap<DWORD, DWORD>> children;  // one snapshot, taken when needed
    for (const auto& [file, record] : read_instance_records(state_dir)) {
        // The record is written after its script started: a process created later than the
        // record (a stale one, after a crash) only reuses the pid.
        const auto root_created = creation_time(static_cast<DWORD>(record.pid));
        const auto written = record_written_at(file);
        if (record.pid > 0 && root_created && written && *root_created <= *written) {
            if (!children) {
                children = children_by_parent();
            }
            add_descendants(static_cast<DWORD>(record.pid), *children, pids);
        }
    }
    return pids;
}

}  // namespace carbon
