#include "proc_stat.hpp"

#include <sstream>

namespace carbon {

std::optional<ProcStat> parse_proc_stat(const std::string& text) {
    const auto open = text.find('(');
    const auto close = text.rfind(')');  // the last ')' ends comm, whatever comm contains
    if (open == std::string::npos || close == std::string::npos || close < open) {
        return std::nullopt;
    }
    ProcStat stat;
    try {
        stat.pid = std::stoi(text.substr(0, open));
    } catch (const std::exception&) {
        return std::nullopt;
    }
    stat.comm = text.substr(open + 1, close - open - 1);
    std::istringstream rest(text.substr(close + 1));
    // Fields 3..22: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    // utime stime cutime cstime priority nice num_threads itrealvalue starttime
    std::string skip;
    rest >> stat.state >> stat.ppid >> stat.pgrp;
    for (int field = 6; field <= 21 && rest; ++field) {
        rest >> skip;
    }
    rest >> stat.start_time;
    if (!rest) {
        return std::nullopt;
    }
    return stat;
}

}  // namespace carbon
