#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "offset_planner.hpp"
#include "profile.hpp"

namespace carbon {

/// What the launcher found out about one instance's JDK.
struct JdkFacts {
    std::string java_home;  // "" when neither the profile nor the environment names one
    std::string version;    // "17.0.8"; "" when unknown
    std::string read_from;  // the release file, or "JAVA_HOME/bin/java -version"
    std::string error;      // why the version could not be read
};

/// One instance as `check` sees it: its plan, its JDK, the environment its script gets.
struct InstanceFacts {
    const InstancePlan* plan = nullptr;
    JdkFacts jdk;
    std::map<std::string, std::string> environment;  // what the start script will see
    std::string script_text;                         // the start script, for work-arounds
    std::optional<std::uint64_t> disk_free;          // bytes free on the home's filesystem
    std::string filesystem;                          // identifies the filesystem ("" unknown)
};

/// One of Windows' excluded port ranges (`netsh int ipv4 show excludedportrange protocol=tcp`).
/// No program can bind a port inside one (WSAEACCES, "forbidden by its access permissions")
/// unless it is administered: added by `netsh int ipv4 add excludedportrange`, marked "*",
/// which only keeps Windows from handing the ports out, as Linux's reserved ports do.
struct ExcludedPortRange {
    PortRange range;
    bool administered = false;
};

/// The host's figures, read by the OS shell (or faked by tests).
struct HostFacts {
    bool windows = false;
    std::optional<std::uint64_t> mem_total;      // bytes
    std::optional<std::uint64_t> mem_available;  // bytes
    std::optional<std::uint64_t> cgroup_memory_max;
    std::string cgroup;                  // the launcher's cgroup, for the message
    std::optional<PortRange> ephemeral;  // Linux: ip_local_port_range; Windows: the dynamic range
    std::string ephemeral_error;         // why `ephemeral` was not measured
    std::vector<PortRange> reserved;     // Windows: the administered excluded ranges
    std::optional<std::vector<ExcludedPortRange>> excluded;  // Windows; nullopt: not measured
    std::string excluded_error;                              // why `excluded` was not measured
    std::optional<std::uint64_t> nofile;     // soft RLIMIT_NOFILE; nullopt: unlimited or unknown
    std::optional<std::uint64_t> nproc;      // soft RLIMIT_NPROC; nullopt: unlimited or unknown
    std::optional<std::uint64_t> tasks_max;  // the cgroup's pids.max; nullopt: none
    std::string hostname;
    bool hostname_resolved = false;
    bool hostname_local = false;
    std::string hostname_addresses;  // what it resolved to
    std::string hostname_error;
    double hostname_lookup_ms = 0;
    std::string state_dir;
    std::string state_dir_error;  // "" when writable
};

enum class CheckLevel { Ok, Warn, Fail };
std::string to_string(CheckLevel level);

/// One line of `check`: what was measured, against which limit, and the fix.
struct Finding {
    CheckLevel level = CheckLevel::Ok;
    std::string check;     // "jdk", "memory", "ephemeral-ports", "limits", "hostname", "disk", ...
    std::string instance;  // "" for the host as a whole
    std::string measured;
    std::string limit;
    std::string fix;  // "" when nothing is to be done
};

/// One row of the memory budget table, in MiB.
struct MemoryRow {
    std::string instance;
    std::uint64_t heap_mb = 0;
    std::string heap_from;  // "JAVA_OPTS", "JVM_MEM_OPTS" or "script default"
    std::uint64_t non_heap_mb = 0;
    std::uint64_t diagnostics_mb = 0;
    std::uint64_t total_mb() const { return heap_mb + non_heap_mb + diagnostics_mb; }
};

struct CheckReport {
    std::vector<Finding> findings;
    std::vector<MemoryRow> memory;
    std::uint64_t memory_total_mb = 0;
    std::optional<std::uint64_t> memory_budget_mb;  // MemTotal, or the cgroup's limit if lower
    std::string memory_budget_from;
    bool failed() const;
    bool warned() const;
};

/// Every rule over every instance. Pure: the facts come in, the findings come out.
CheckReport run_host_checks(const std::vector<InstanceFacts>& instances, const HostFacts& host);

/// "memory: measured; limit: ...; fix: ..." (the instance after the check's name).
std::string describe_finding(const Finding& finding);

/// The report as `check` prints it: one line per finding, then the memory table.
std::string render_check_report(const CheckReport& report);
/// `check --json` (schema carbon-launcher/check/v1).
nlohmann::json check_report_to_json(const CheckReport& report);

// Parsers of the files the facts come from (tested with fake inputs).

/// JAVA_VERSION from a JDK's `release` file ("JAVA_VERSION=\"17.0.8\""), or "".
std::string parse_jdk_release(std::string_view text);
/// The version `java -version` prints on its first line ("openjdk version \"17.0.8\" ..."), or "".
std::string parse_java_version_output(std::string_view text);
/// The major of a Java version: "1.8.0_392" -> 8, "17.0.8" -> 17, "21" -> 21; nullopt if none.
std::optional<int> java_major(std::string_view version);
/// A /proc/meminfo field ("MemTotal") in bytes, or nullopt.
std::optional<std::uint64_t> parse_meminfo_field(std::string_view meminfo, std::string_view field);
/// ip_local_port_range ("32768\t60999"), or nullopt.
std::optional<PortRange> parse_port_range(std::string_view text);
/// ip_local_reserved_ports ("8000-8010,9443"); nullopt when malformed.
std::optional<std::vector<PortRange>> parse_reserved_ports(std::string_view text);
/// `netsh int ipv4 show dynamicport tcp`: "Start Port : 49152" and "Number of Ports : 16384"
/// as a range. The labels are localized, so only the order of the two numbers counts; nullopt
/// unless there are exactly two "label : number" lines making a range within 1-65535.
std::optional<PortRange> parse_netsh_dynamic_ports(std::string_view text);
/// `netsh int ipv4 show excludedportrange protocol=tcp`: the "start end [*]" lines below the
/// dashed line, up to the "* - ..." footnote. nullopt when there is no dashed line or a line
/// below it is neither a range nor the footnote (an empty list is a host without exclusions).
std::optional<std::vector<ExcludedPortRange>> parse_netsh_excluded_ports(std::string_view text);
/// A cgroup v2 limit file (memory.max, pids.max): a number, or nullopt for "max" or garbage.
std::optional<std::uint64_t> parse_cgroup_limit(std::string_view text);
/// The heap a JVM gets from these options: the last -Xmx / -XX:MaxHeapSize, in bytes.
std::optional<std::uint64_t> parse_max_heap(std::string_view options);
/// `ports` as ip_local_reserved_ports wants them: sorted, adjacent ones as ranges.
std::string format_reserved_ports(std::vector<int> ports);

}  // namespace carbon
