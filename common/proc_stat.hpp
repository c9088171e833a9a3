#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace carbon {

/// The fields of /proc/PID/stat the supervisor needs.
struct ProcStat {
    int pid = 0;
    std::string comm;
    char state = '?';
    int ppid = 0;
    int pgrp = 0;
    std::uint64_t start_time = 0;  // clock ticks since boot: with the pid, identifies a process
};

/// Parses /proc/PID/stat text; the command name may contain spaces and parentheses.
std::optional<ProcStat> parse_proc_stat(const std::string& text);

}  // namespace carbon
