#include <signal.h>

#include <cerrno>

#include "process_probe.hpp"
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
