#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "os/host_facts.hpp"

extern char** environ;

namespace carbon {
namespace {

constexpr auto kJavaVersionTimeout = std::chrono::seconds(10);

std::optional<std::string> read_host_file(const std::filesystem::path& relative) {
    std::ifstream file(host_files_root() / relative);
    if (!file) {
        return std::nullopt;
    }
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

/// The launcher's cgroup v2 path ("/system.slice/carbon-launcher.service"), from
/// /proc/self/cgroup's "0::" line; "" outside cgroup v2.
std::string own_cgroup() {
    const auto text = read_host_file("proc/self/cgroup");
    if (!text) {
        return {};
    }
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("0::", 0) == 0) {
            return line.substr(3);
        }
    }
    return {};
}

/// The lowest limit in `file` (memory.max, pids.max) on the way from the cgroup up to the root.
std::optional<std::uint64_t> cgroup_limit(const std::string& cgroup, const std::string& file) {
    std::optional<std::uint64_t> lowest;
    std::filesystem::path path = std::filesystem::path("sys/fs/cgroup") / cgroup.substr(1);
    for (int depth = 0; depth < 64; ++depth) {
        if (const auto text = read_host_file(path / file)) {
            if (const auto limit = parse_cgroup_limit(*text);
                limit && (!lowest || *limit < *lowest)) {
                lowest = limit;
            }
        }
        if (path == "sys/fs/cgroup" || !path.has_parent_path()) {
            break;
        }
        path = path.parent_path();
    }
    return lowest;
}

std::optional<std::uint64_t> soft_limit(int resource) {
    rlimit limit{};
    if (getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(limit.rlim_cur);
}

std::optional<PortRange> read_ephemeral_range() {
    const auto text = read_host_file("proc/sys/net/ipv4/ip_local_port_range");
    return text ? parse_port_range(*text) : std::nullopt;
}

std::vector<PortRange> read_reserved_ports() {
    const auto text = read_host_file("proc/sys/net/ipv4/ip_local_reserved_ports");
    return text ? parse_reserved_ports(*text).value_or(std::vector<PortRange>{})
                : std::vector<PortRange>{};
}

}  // namespace

PlanPreferences read_plan_preferences() {
    PlanPreferences preferences;
    preferences.ephemeral = read_ephemeral_range();
    preferences.reserved = read_reserved_ports();
    // No unbindable ranges: a port in ip_local_reserved_ports is only kept from ephemeral use.
    return preferences;
}

void read_platform_host_facts(HostFacts& facts) {
    if (const auto meminfo = read_host_file("proc/meminfo")) {
        facts.mem_total = parse_meminfo_field(*meminfo, "MemTotal");
        facts.mem_available = parse_meminfo_field(*meminfo, "MemAvailable");
    }
    facts.ephemeral = read_ephemeral_range();
    facts.reserved = read_reserved_ports();
    facts.nofile = soft_limit(RLIMIT_NOFILE);
    facts.nproc = soft_limit(RLIMIT_NPROC);
    facts.cgroup = own_cgroup();
    if (!facts.cgroup.empty()) {
        facts.cgroup_memory_max = cgroup_limit(facts.cgroup, "memory.max");
        facts.tasks_max = cgroup_limit(facts.cgroup, "pids.max");
    }
}

std::string run_java_version(const std::filesystem::path& java, std::string& error) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        error = "pipe failed";
        return {};
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
    const std::string program = java.string();
    char arg0[] = "java";
    char arg1[] = "-version";
    char* argv[] = {arg0, arg1, nullptr};
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    if (spawned != 0) {
        close(pipe_fds[0]);
        error = "cannot run " + program;
        return {};
    }
    // Read until EOF or the deadline: a JDK that hangs must not hang `check`.
    std::string output;
    const auto deadline = std::chrono::steady_clock::now() + kJavaVersionTimeout;
    for (int reads = 0; reads < 10000 && output.size() < 65536; ++reads) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd ready{pipe_fds[0], POLLIN, 0};
        if (left.count() <= 0 || poll(&ready, 1, static_cast<int>(left.count())) <= 0) {
            error = program + " -version did not finish within 10 s";
            kill(pid, SIGKILL);
            break;
        }
        char buffer[4096];
        const auto got = read(pipe_fds[0], buffer, sizeof buffer);
        if (got <= 0) {
            break;
        }
        output.append(buffer, static_cast<std::size_t>(got));
    }
    close(pipe_fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    std::string version = parse_java_version_output(output);
    if (version.empty() && error.empty()) {
        error = program + " -version printed no version";
    }
    return version;
}

std::string filesystem_of(const std::filesystem::path& path) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) {
        return {};
    }
    return std::to_string(static_cast<unsigned long long>(info.st_dev));
}

}  // namespace carbon
