#include <signal.h>
#include <sys/stat.h>

#include <cerrno>

#include "os/process_probe.hpp"
#include "text_file.hpp"

namespace carbon {

std::optional<int> live_runtime_pid(const std::filesystem::path& pid_file,
                                    const std::filesystem::path& home) {
    std::string error;
    const auto text = read_text_file(pid_file, error);
    if (!text) {
        return std::nullopt;
    }
    long pid = 0;
    for (const char c : *text) {
        if (c < '0' || c > '9') {
            break;
        }
        pid = pid * 10 + (c - '0');
        if (pid > 4194304) {  // above Linux's pid_max: not a pid
            return std::nullopt;
        }
    }
    if (pid <= 1 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)) {
        return std::nullopt;
    }
    const auto cmdline = read_text_file("/proc/" + std::to_string(pid) + "/cmdline", error);
    if (!cmdline || cmdline->find(home.string()) == std::string::npos) {
        return std::nullopt;
    }
    return static_cast<int>(pid);
}

}  // namespace carbon

#include <sys/prctl.h>

namespace carbon {

std::optional<FileStamp> file_stamp(const std::filesystem::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return std::nullopt;
    }
    return FileStamp{static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                     static_cast<std::int64_t>(st.st_size)};
}

std::optional<ProcStat> read_proc_stat(int pid) {
    std::string error;
    const auto text = read_text_file("/proc/" + std::to_string(pid) + "/stat", error);
    return text ? parse_proc_stat(*text) : std::nullopt;
}

std::vector<int> group_members(int pgid) {
    std::vector<int> members;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const auto stat = read_proc_stat(std::stoi(name));
        if (stat && stat->pgrp == pgid) {
            members.push_back(stat->pid);
        }
    }
    return members;
}

bool group_alive(int pgid) {
    return pgid > 0 && (::kill(-pgid, 0) == 0 || errno == EPERM);
}

void signal_group(int pgid, int signal) {
    if (pgid > 1) {
        ::kill(-pgid, signal);
    }
}

bool become_child_subreaper() {
    return ::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
}

}  // namespace carbon
