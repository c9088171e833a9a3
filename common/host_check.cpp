#include "host_check.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "host_requirements.hpp"

namespace carbon {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr double kSlowLookupMs = 1000;  // a Carbon server resolves its host name at start

std::uint64_t to_mib(std::uint64_t bytes) {
    return (bytes + kMiB - 1) / kMiB;
}

std::string mib_text(std::uint64_t mib) {
    return std::to_string(mib) + " MiB";
}

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

std::optional<std::uint64_t> to_number(std::string_view text) {
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

/// The lines of a small input file, without their line ends.
std::vector<std::string> check_input_lines(std::string_view text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        auto line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        lines.emplace_back(line);
        start = end + 1;
    }
    return lines;
}

std::vector<std::string> split_words(std::string_view text) {
    std::vector<std::string> words;
    std::istringstream stream{std::string(text)};
    for (std::string word; stream >> word;) {
        words.push_back(word);
    }
    return words;
}

/// netsh's rule under a table's header: "----------    --------".
bool is_dashed_rule(std::string_view line) {
    const std::string text = trim(line);
    return text.size() >= 2 && text.find_first_not_of("- \t") == std::string::npos;
}

/// "5357 5357" or "50000 50059 *" (administered) of an excluded-ports table; nullopt otherwise.
std::optional<ExcludedPortRange> excluded_range_line(const std::vector<std::string>& words) {
    const bool administered = words.size() == 3 && words[2] == "*";
    if (words.size() != 2 && !administered) {
        return std::nullopt;
    }
    const auto first = to_number(words[0]);
    const auto last = to_number(words[1]);
    if (!first || !last || *first == 0 || *first > *last || *last > 65535) {
        return std::nullopt;
    }
    return ExcludedPortRange{{static_cast<int>(*first), static_cast<int>(*last)}, administered};
}

/// "1024m" -> bytes, following the JVM's size suffixes (none: bytes).
std::optional<std::uint64_t> jvm_size(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    std::uint64_t unit = 1;
    switch (text.back()) {
        case 'k':
        case 'K':
            unit = 1024;
            break;
        case 'm':
        case 'M':
            unit = kMiB;
            break;
        case 'g':
        case 'G':
            unit = 1024 * kMiB;
            break;
        case 't':
        case 'T':
            unit = 1024 * 1024 * kMiB;
            break;
        default:
            break;
    }
    const auto digits = unit == 1 ? text : text.substr(0, text.size() - 1);
    const auto number = to_number(digits);
    if (!number || *number > (UINT64_MAX / unit)) {
        return std::nullopt;
    }
    return *number * unit;
}

const HostRequirements& requirements_of(const InstanceFacts& instance) {
    return instance.plan->profile->table->host;
}

const std::string& name_of(const InstanceFacts& instance) {
    return instance.plan->profile->name;
}

std::string env_or_empty(const InstanceFacts& instance, const std::string& key) {
    if (key.empty()) {
        return {};
    }
    const auto it = instance.environment.find(key);
    return it == instance.environment.end() ? std::string() : it->second;
}

// ---- JDK ------------------------------------------------------------------------------------

bool trap_worked_around(const JdkTrap& trap, const InstanceFacts& instance) {
    if (trap.unless_script_contains.empty()) {
        return false;
    }
    const auto& needle = trap.unless_script_contains;
    return instance.script_text.find(needle) != std::string::npos ||
           env_or_empty(instance, requirements_of(instance).memory.appended).find(needle) !=
               std::string::npos;
}

void check_jdk(const InstanceFacts& instance, std::vector<Finding>& findings) {
    const auto& profile = *instance.plan->profile;
    Finding finding{CheckLevel::Ok, "jdk", profile.name, "", "", ""};
    const auto& jdk = instance.jdk;
    if (jdk.java_home.empty()) {
        finding.level = CheckLevel::Fail;
        finding.measured = "no JDK: the profile has no \"java_home\" and JAVA_HOME is not set";
        finding.fix = "set \"java_home\" in " + profile.source.string() + " to a JDK's folder";
        findings.push_back(finding);
        return;
    }
    const auto major = java_major(jdk.version);
    if (!major) {
        finding.level = CheckLevel::Fail;
        finding.measured = "cannot read the JDK version in " + jdk.java_home + ": " +
                           (jdk.error.empty() ? "no version found" : jdk.error);
        finding.fix = "point \"java_home\" in " + profile.source.string() +
                      " at a JDK (a folder with bin/java and a release file)";
        findings.push_back(finding);
        return;
    }
    finding.measured = "JDK " + jdk.version + " (" + jdk.read_from + ")";
    const auto& version = profile.health.pack_version;
    const auto& table = *profile.table;
    if (!version) {
        finding.level = CheckLevel::Warn;
        finding.limit = "the pack's version is unknown, so its JDK range is not checked";
        finding.fix = "check that " + (profile.home / "bin" / "version.txt").string() +
                      " exists (the pack writes its version there)";
        findings.push_back(finding);
        return;
    }
    const auto* range = table.host.jdk_range_for(*version);
    if (range == nullptr) {
        finding.level = CheckLevel::Warn;
        finding.limit = "no known JDK range for " + table.display_name + " " + version->to_string();
        findings.push_back(finding);
        return;
    }
    finding.limit = table.display_name + " " + version->to_string() + " supports JDK " +
                    std::to_string(range->min_major) + " to " + std::to_string(range->max_major);
    if (*major < range->min_major || *major > range->max_major) {
        finding.level = CheckLevel::Fail;
        finding.fix = "point \"java_home\" in " + profile.source.string() + " at a JDK " +
                      std::to_string(range->min_major) + " to " + std::to_string(range->max_major) +
                      " (the start script only prints an error and starts anyway)";
        findings.push_back(finding);
        return;
    }
    for (const auto& trap : table.host.jdk_traps) {
        if (std::find(trap.versions.begin(), trap.versions.end(), jdk.version) !=
                trap.versions.end() &&
            !trap_worked_around(trap, instance)) {
            finding.level = CheckLevel::Fail;
            finding.limit = "JDK " + jdk.version + " " + trap.why;
            finding.fix = "use another update of JDK " + std::to_string(*major) +
                          (trap.unless_script_contains.empty()
                               ? std::string()
                               : ", or add " + trap.unless_script_contains + " to " +
                                     table.host.memory.appended + " in \"env\" of " +
                                     profile.source.string());
            findings.push_back(finding);
            return;
        }
    }
    findings.push_back(finding);
}

// ---- memory ---------------------------------------------------------------------------------

MemoryRow memory_row(const InstanceFacts& instance, bool windows) {
    const auto& facts = requirements_of(instance).memory;
    MemoryRow row;
    row.instance = name_of(instance);
    const auto& replaced_by = windows ? facts.replaced_by_windows : facts.replaced_by_linux;
    const std::string replacement = env_or_empty(instance, replaced_by);
    const std::string base = replacement.empty() ? facts.default_options : replacement;
    const std::string appended = env_or_empty(instance, facts.appended);
    std::optional<std::uint64_t> heap;
    if (auto from_appended = parse_max_heap(appended)) {
        heap = from_appended;
        row.heap_from = facts.appended;
    } else if (auto from_base = parse_max_heap(base)) {
        heap = from_base;
        row.heap_from = replacement.empty() ? "script default" : replaced_by;
    } else {
        heap = 256 * kMiB;  // no -Xmx anywhere: the JVM's own default is a quarter of RAM at most
        row.heap_from = "none set";
    }
    row.heap_mb = to_mib(*heap);
    row.non_heap_mb = std::max<std::uint64_t>(
        static_cast<std::uint64_t>(facts.non_heap_min_mb),
        static_cast<std::uint64_t>(
            std::llround(static_cast<double>(row.heap_mb) * facts.non_heap_ratio)));
    const auto& version = instance.plan->profile->health.pack_version;
    if (facts.diagnostics_jvm_mb > 0 && version &&
        (!facts.diagnostics_from || *version >= *facts.diagnostics_from)) {
        row.diagnostics_mb = static_cast<std::uint64_t>(facts.diagnostics_jvm_mb);
    }
    return row;
}

void check_memory(const std::vector<InstanceFacts>& instances, const HostFacts& host,
                  CheckReport& report) {
    for (const auto& instance : instances) {
        report.memory.push_back(memory_row(instance, host.windows));
        report.memory_total_mb += report.memory.back().total_mb();
    }
    Finding finding{CheckLevel::Ok, "memory", "", "", "", ""};
    finding.measured = "the instances need about " + mib_text(report.memory_total_mb) +
                       " (heap + non-heap + diagnostics JVM, table below)";
    if (host.mem_total) {
        report.memory_budget_mb = host.mem_total.value() / kMiB;
        report.memory_budget_from = "MemTotal";
    }
    if (host.cgroup_memory_max &&
        (!report.memory_budget_mb ||
         host.cgroup_memory_max.value() / kMiB < *report.memory_budget_mb)) {
        report.memory_budget_mb = host.cgroup_memory_max.value() / kMiB;
        report.memory_budget_from = "memory.max of cgroup " + host.cgroup;
    }
    if (!report.memory_budget_mb) {
        finding.level = CheckLevel::Warn;
        finding.limit = "the host's memory could not be read";
        report.findings.push_back(finding);
        return;
    }
    finding.limit = mib_text(*report.memory_budget_mb) + " (" + report.memory_budget_from + ")";
    if (report.memory_total_mb > *report.memory_budget_mb) {
        finding.level = CheckLevel::Fail;
        finding.fix =
            "lower -Xmx in the profiles' \"env\" (" +
            (host.windows ? std::string("JAVA_OPTS") : std::string("JVM_MEM_OPTS or JAVA_OPTS")) +
            "), run fewer instances here, or give the host more memory";
    } else if (host.mem_available && report.memory_total_mb > host.mem_available.value() / kMiB) {
        finding.level = CheckLevel::Warn;
        finding.limit += "; only " + mib_text(host.mem_available.value() / kMiB) +
                         " available now (MemAvailable)";
        finding.fix = "free memory, or lower -Xmx in the profiles' \"env\"";
    }
    report.findings.push_back(finding);
}

// ---- ephemeral ports and Windows' excluded ranges ------------------------------------------

/// "what: why", or `what` alone when why is unknown.
std::string with_reason(const std::string& what, const std::string& why) {
    return why.empty() ? what : what + ": " + why;
}

constexpr int kWindowsDefaultDynamicStart = 49152;
constexpr int kWindowsMinDynamicPorts = 255;  // netsh refuses a smaller dynamic range

/// "9400-9499", or "5357" for a range of one port.
std::string port_range_text(const PortRange& range) {
    return range.first == range.last
               ? std::to_string(range.first)
               : std::to_string(range.first) + "-" + std::to_string(range.last);
}

/// The excluded range (not administered) that keeps every program off `port`, or nullptr.
const ExcludedPortRange* blocking_exclusion(const HostFacts& host, int port) {
    if (!host.excluded) {
        return nullptr;
    }
    const auto it =
        std::find_if(host.excluded->begin(), host.excluded->end(), [port](const auto& excluded) {
            return !excluded.administered && excluded.range.contains(port);
        });
    return it == host.excluded->end() ? nullptr : &*it;
}

int highest_planned_port(const std::vector<InstanceFacts>& instances) {
    int highest = 0;
    for (const auto& instance : instances) {
        for (const auto& port : instance.plan->ports) {
            highest = std::max(highest, port.port);
        }
    }
    return highest;
}

/// Windows has no reserved-ports setting: the range moves above the planned ports (back to its
/// default where that is above them), or administered exclusions keep single ports out of it.
std::string windows_dynamic_range_fix(const std::vector<InstanceFacts>& instances,
                                      const std::string& range_text) {
    const int start = std::max(highest_planned_port(instances) + 1, kWindowsDefaultDynamicStart);
    const int count = 65536 - start;
    std::string fix = "as administrator, ";
    if (count >= kWindowsMinDynamicPorts) {
        fix +=
            "move the range above every planned port (netsh int ipv4 set dynamicport tcp start=" +
            std::to_string(start) + " num=" + std::to_string(count) + ") or ";
    }
    return fix +
           "exclude these ports from it (netsh int ipv4 add excludedportrange protocol=tcp "
           "startport=PORT numberofports=1 for each); or give the instance an \"offset\" that "
           "puts its ports outside " +
           range_text;
}

void check_ephemeral(const std::vector<InstanceFacts>& instances, const HostFacts& host,
                     std::vector<Finding>& findings) {
    const std::string range_name = host.windows ? "dynamic port range" : "ephemeral range";
    if (!host.ephemeral) {
        findings.push_back({CheckLevel::Ok, "ephemeral-ports", "",
                            host.windows ? with_reason("the dynamic port range was not measured",
                                                       host.ephemeral_error)
                                         : "the ephemeral port range could not be read",
                            "", ""});
        return;
    }
    const auto range = *host.ephemeral;
    PlanPreferences exposure;
    exposure.ephemeral = host.ephemeral;
    exposure.reserved = host.reserved;
    const std::string range_text = std::to_string(range.first) + "-" + std::to_string(range.last);
    std::vector<int> exposed_all;
    for (const auto& instance : instances) {
        std::vector<int> exposed;
        for (const auto& port : instance.plan->ports) {
            // A port no program can bind fails under excluded-ports: not warned twice.
            if (exposure.exposed(port.port) && blocking_exclusion(host, port.port) == nullptr) {
                exposed.push_back(port.port);
            }
        }
        if (exposed.empty()) {
            continue;
        }
        exposed_all.insert(exposed_all.end(), exposed.begin(), exposed.end());
        findings.push_back(
            {CheckLevel::Warn, "ephemeral-ports", name_of(instance),
             "ports " + format_reserved_ports(exposed) + " lie inside the " + range_name + " " +
                 range_text +
                 (host.windows ? " and are not excluded from it" : " and are not reserved"),
             "an outgoing connection may take one of them before the JVM binds it",
             host.windows ? windows_dynamic_range_fix(instances, range_text)
                          : "carbon-launcher export sysctl (writes a sysctl.d drop-in reserving "
                            "the planned ports), or raise the range's lower bound above them"});
    }
    if (exposed_all.empty()) {
        findings.push_back({CheckLevel::Ok, "ephemeral-ports", "",
                            "no planned port lies in the " + range_name + " " + range_text +
                                (host.windows ? " unexcluded" : " unreserved"),
                            "", ""});
    }
}

/// The failure of an instance with ports inside excluded ranges that are not administered.
std::optional<Finding> excluded_ports_finding(const InstanceFacts& instance,
                                              const HostFacts& host) {
    std::vector<int> blocked;
    std::vector<std::string> ranges;
    for (const auto& port : instance.plan->ports) {
        if (const auto* excluded = blocking_exclusion(host, port.port)) {
            blocked.push_back(port.port);
            const auto text = port_range_text(excluded->range);
            if (std::find(ranges.begin(), ranges.end(), text) == ranges.end()) {
                ranges.push_back(text);
            }
        }
    }
    if (blocked.empty()) {
        return std::nullopt;
    }
    std::string range_list;
    for (const auto& text : ranges) {
        range_list += (range_list.empty() ? "" : ", ") + text;
    }
    return Finding{
        CheckLevel::Fail,
        "excluded-ports",
        name_of(instance),
        "ports " + format_reserved_ports(blocked) + " lie inside the excluded port range" +
            (ranges.size() > 1 ? "s " : " ") + range_list +
            " (netsh int ipv4 show excludedportrange protocol=tcp; not administered: taken "
            "by a Windows component, often Hyper-V, WSL or Docker's NAT at boot)",
        "no program can bind a port in an excluded range although none listens there: the "
        "JVM fails with \"An attempt was made to access a socket in a way forbidden by its "
        "access permissions\"",
        "give the instance an \"offset\" in " + instance.plan->profile->source.string() +
            " that puts its ports outside; or, as administrator, keep the ports for it: net "
            "stop winnat, netsh int ipv4 add excludedportrange protocol=tcp startport=PORT "
            "numberofports=1 for each (an administered exclusion, which the JVM can bind), "
            "net start winnat"};
}

void check_excluded(const std::vector<InstanceFacts>& instances, const HostFacts& host,
                    std::vector<Finding>& findings) {
    if (!host.windows && !host.excluded) {
        return;  // Linux has no excluded ranges: its reserved ports only keep ephemeral use off
    }
    if (!host.excluded) {
        findings.push_back(
            {CheckLevel::Ok, "excluded-ports", "",
             with_reason("the excluded port ranges were not measured", host.excluded_error), "",
             ""});
        return;
    }
    bool any_blocked = false;
    for (const auto& instance : instances) {
        if (auto finding = excluded_ports_finding(instance, host)) {
            findings.push_back(std::move(*finding));
            any_blocked = true;
        }
    }
    if (!any_blocked) {
        const auto administered =
            std::count_if(host.excluded->begin(), host.excluded->end(),
                          [](const auto& excluded) { return excluded.administered; });
        findings.push_back({CheckLevel::Ok, "excluded-ports", "",
                            "no planned port lies in one of the " +
                                std::to_string(host.excluded->size()) + " excluded port ranges (" +
                                std::to_string(administered) +
                                " of them administered, which the JVM can bind)",
                            "", ""});
    }
}

// ---- limits ---------------------------------------------------------------------------------

void check_limits(const std::vector<InstanceFacts>& instances, const HostFacts& host,
                  std::vector<Finding>& findings) {
    if (host.windows) {
        return;  // no per-process fd or thread limits to raise there
    }
    std::uint64_t nofile_needed = 0;
    std::uint64_t threads_needed = 0;
    for (const auto& instance : instances) {
        const auto& needs = requirements_of(instance).needs;
        nofile_needed =
            std::max<std::uint64_t>(nofile_needed, static_cast<std::uint64_t>(needs.nofile));
        threads_needed += static_cast<std::uint64_t>(needs.nproc);
    }
    const std::string count = std::to_string(instances.size()) + " instance(s)";
    Finding nofile{CheckLevel::Ok,
                   "limits",
                   "",
                   "open files (RLIMIT_NOFILE) " +
                       (host.nofile ? std::to_string(*host.nofile) : std::string("unlimited")),
                   "each JVM needs " + std::to_string(nofile_needed),
                   ""};
    if (host.nofile && *host.nofile < nofile_needed) {
        nofile.level = CheckLevel::Warn;
        nofile.fix = "LimitNOFILE=" + std::to_string(nofile_needed) +
                     " in the unit (packaging sets 65536), or `ulimit -n " +
                     std::to_string(nofile_needed) + "` before `carbon-launcher run`";
    }
    findings.push_back(nofile);
    Finding nproc{CheckLevel::Ok,
                  "limits",
                  "",
                  "processes and threads (RLIMIT_NPROC) " +
                      (host.nproc ? std::to_string(*host.nproc) : std::string("unlimited")),
                  count + " need " + std::to_string(threads_needed) + " threads",
                  ""};
    if (host.nproc && *host.nproc < threads_needed) {
        nproc.level = CheckLevel::Warn;
        nproc.fix = "LimitNPROC=" + std::to_string(threads_needed) +
                    " in the unit, or raise nproc in /etc/security/limits.conf";
    }
    findings.push_back(nproc);
    if (host.tasks_max) {
        Finding tasks{CheckLevel::Ok,
                      "limits",
                      "",
                      "pids.max of cgroup " + host.cgroup + " " + std::to_string(*host.tasks_max),
                      count + " need " + std::to_string(threads_needed) + " tasks",
                      ""};
        if (*host.tasks_max < threads_needed) {
            tasks.level = CheckLevel::Warn;
            tasks.fix = "TasksMax=" + std::to_string(threads_needed) + " (or infinity) in the unit";
        }
        findings.push_back(tasks);
    }
}

// ---- host name, disk, state dir -------------------------------------------------------------

void check_hostname(const HostFacts& host, std::vector<Finding>& findings) {
    Finding finding{CheckLevel::Ok, "hostname", "", "", "", ""};
    std::ostringstream took;
    took.precision(1);
    took << std::fixed << host.hostname_lookup_ms;
    finding.measured = "\"" + host.hostname + "\" ";
    finding.limit = "resolves within " + std::to_string(static_cast<int>(kSlowLookupMs)) +
                    " ms to an address of this host";
    const std::string hosts_fix = "add \"127.0.1.1 " + host.hostname + "\" to /etc/hosts";
    if (!host.hostname_resolved) {
        finding.level = CheckLevel::Warn;
        finding.measured += "does not resolve (" + host.hostname_error + ", after " + took.str() +
                            " ms); Carbon servers have taken 40 s and more to start so";
        finding.fix = hosts_fix;
    } else {
        finding.measured += "resolved to " + host.hostname_addresses + " in " + took.str() + " ms";
        if (host.hostname_lookup_ms > kSlowLookupMs) {
            finding.level = CheckLevel::Warn;
            finding.fix = hosts_fix;
        } else if (!host.hostname_local) {
            finding.level = CheckLevel::Warn;
            finding.limit = "an address of this host";
            finding.fix = hosts_fix + " (it resolves to an address no interface here has)";
        }
    }
    findings.push_back(finding);
}

void check_disk(const std::vector<InstanceFacts>& instances, bool windows,
                std::vector<Finding>& findings) {
    // Homes on one filesystem share its free space: sum what they need per filesystem.
    std::map<std::string, std::uint64_t> needed_by_filesystem;
    for (const auto& instance : instances) {
        if (instance.filesystem.empty()) {
            continue;
        }
        needed_by_filesystem[instance.filesystem] +=
            memory_row(instance, windows).heap_mb +
            static_cast<std::uint64_t>(requirements_of(instance).needs.log_headroom_mb);
    }
    for (const auto& instance : instances) {
        const auto& needs = requirements_of(instance).needs;
        const auto home = instance.plan->profile->home;
        Finding finding{CheckLevel::Ok, "disk", name_of(instance), "", "", ""};
        if (!instance.disk_free) {
            finding.level = CheckLevel::Warn;
            finding.measured = "free space of " + home.string() + " could not be read";
            findings.push_back(finding);
            continue;
        }
        const auto free_mb = *instance.disk_free / kMiB;
        const auto needed = needed_by_filesystem[instance.filesystem];
        finding.measured = mib_text(free_mb) + " free on the filesystem of " + home.string();
        finding.limit = mib_text(needed) + " for the heap dump" +
                        (needs.heap_dump.empty() ? std::string() : " (" + needs.heap_dump + ")") +
                        " and logs of every home on it";
        if (free_mb < needed) {
            finding.level = CheckLevel::Warn;
            finding.fix =
                "free space there, or move the homes; an OutOfMemoryError writes a "
                "heap dump as large as the heap";
        }
        findings.push_back(finding);
    }
}

void check_state_dir(const HostFacts& host, std::vector<Finding>& findings) {
    if (host.state_dir.empty()) {
        return;
    }
    Finding finding{CheckLevel::Ok, "state-dir", "", host.state_dir + " is writable", "", ""};
    if (!host.state_dir_error.empty()) {
        finding.level = CheckLevel::Fail;
        finding.measured = host.state_dir + ": " + host.state_dir_error;
        finding.fix = "create it for this user, or pass --state-dir";
    }
    findings.push_back(finding);
}

std::string level_label(CheckLevel level) {
    std::string label = to_string(level);
    label.resize(4, ' ');
    return label;
}

}  // namespace

std::string to_string(CheckLevel level) {
    switch (level) {
        case CheckLevel::Ok:
            return "ok";
        case CheckLevel::Warn:
            return "warn";
        case CheckLevel::Fail:
            return "fail";
    }
    return "?";
}

bool CheckReport::failed() const {
    return std::any_of(findings.begin(), findings.end(),
                       [](const Finding& f) { return f.level == CheckLevel::Fail; });
}

bool CheckReport::warned() const {
    return std::any_of(findings.begin(), findings.end(),
                       [](const Finding& f) { return f.level == CheckLevel::Warn; });
}

CheckReport run_host_checks(const std::vector<InstanceFacts>& instances, const HostFacts& host) {
    CheckReport report;
    for (const auto& instance : instances) {
        check_jdk(instance, report.findings);
    }
    check_memory(instances, host, report);
    check_ephemeral(instances, host, report.findings);
    check_excluded(instances, host, report.findings);
    check_limits(instances, host, report.findings);
    check_hostname(host, report.findings);
    check_disk(instances, host.windows, report.findings);
    check_state_dir(host, report.findings);
    return report;
}

std::string describe_finding(const Finding& finding) {
    std::string line = finding.check + ": ";
    if (!finding.instance.empty()) {
        line += finding.instance + ": ";
    }
    line += finding.measured;
    if (!finding.limit.empty()) {
        line += "; limit: " + finding.limit;
    }
    if (!finding.fix.empty()) {
        line += "; fix: " + finding.fix;
    }
    return line;
}

std::string render_check_report(const CheckReport& report) {
    std::ostringstream out;
    for (const auto& finding : report.findings) {
        out << level_label(finding.level) << "  " << describe_finding(finding) << "\n";
    }
    if (!report.memory.empty()) {
        out << "\nmemory budget (MiB)\n";
        char line[160];
        std::snprintf(line, sizeof line, "  %-24s %8s %-16s %9s %12s %8s\n", "INSTANCE", "HEAP",
                      "FROM", "NON-HEAP", "DIAGNOSTICS", "TOTAL");
        out << line;
        for (const auto& row : report.memory) {
            std::snprintf(line, sizeof line, "  %-24s %8llu %-16s %9llu %12llu %8llu\n",
                          row.instance.c_str(), static_cast<unsigned long long>(row.heap_mb),
                          row.heap_from.c_str(), static_cast<unsigned long long>(row.non_heap_mb),
                          static_cast<unsigned long long>(row.diagnostics_mb),
                          static_cast<unsigned long long>(row.total_mb()));
            out << line;
        }
        std::snprintf(line, sizeof line, "  %-24s %8s %-16s %9s %12s %8llu\n", "total", "", "", "",
                      "", static_cast<unsigned long long>(report.memory_total_mb));
        out << line;
        if (report.memory_budget_mb) {
            std::snprintf(line, sizeof line, "  %-24s %8s %-16s %9s %12s %8llu\n", "host", "", "",
                          "", "", static_cast<unsigned long long>(*report.memory_budget_mb));
            out << line << "  (host: " << report.memory_budget_from
                << "; non-heap is an estimate: see README, \"check\")\n";
        }
    }
    return out.str();
}

nlohmann::json check_report_to_json(const CheckReport& report) {
    nlohmann::json findings = nlohmann::json::array();
    for (const auto& finding : report.findings) {
        findings.push_back({{"level", to_string(finding.level)},
                            {"check", finding.check},
                            {"instance", finding.instance},
                            {"measured", finding.measured},
                            {"limit", finding.limit},
                            {"fix", finding.fix}});
    }
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : report.memory) {
        rows.push_back({{"instance", row.instance},
                        {"heap_mb", row.heap_mb},
                        {"heap_from", row.heap_from},
                        {"non_heap_mb", row.non_heap_mb},
                        {"diagnostics_mb", row.diagnostics_mb},
                        {"total_mb", row.total_mb()}});
    }
    nlohmann::json memory = {{"instances", rows}, {"total_mb", report.memory_total_mb}};
    memory["budget_mb"] = report.memory_budget_mb ? nlohmann::json(*report.memory_budget_mb)
                                                  : nlohmann::json(nullptr);
    memory["budget_from"] = report.memory_budget_from;
    return {{"schema", "carbon-launcher/check/v1"},
            {"result", report.failed() ? "fail" : (report.warned() ? "warn" : "ok")},
            {"findings", findings},
            {"memory", memory}};
}

std::string parse_jdk_release(std::string_view text) {
    for (const auto& line : check_input_lines(text)) {
        const std::string trimmed = trim(line);
        constexpr std::string_view kKey = "JAVA_VERSION=";
        if (trimmed.rfind(kKey, 0) != 0) {
            continue;
        }
        std::string value = trim(std::string_view(trimmed).substr(kKey.size()));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        return value;
    }
    return {};
}

std::string parse_java_version_output(std::string_view text) {
    for (const auto& line : check_input_lines(text)) {
        const auto marker = line.find(" version \"");
        if (marker == std::string::npos) {
            continue;
        }
        const auto start = marker + 10;
        const auto end = line.find('"', start);
        if (end != std::string::npos) {
            return std::string(line.substr(start, end - start));
        }
    }
    return {};
}

std::optional<int> java_major(std::string_view version) {
    int first = 0;
    const auto* end = version.data() + version.size();
    auto [ptr, ec] = std::from_chars(version.data(), end, first);
    if (ec != std::errc() || ptr == version.data()) {
        return std::nullopt;
    }
    if (first == 1 && ptr != end && *ptr == '.') {  // 1.8.0_392: the old scheme
        int second = 0;
        auto [ptr2, ec2] = std::from_chars(ptr + 1, end, second);
        if (ec2 != std::errc() || ptr2 == ptr + 1) {
            return std::nullopt;
        }
        return second;
    }
    return first;
}

std::optional<std::uint64_t> parse_meminfo_field(std::string_view meminfo, std::string_view field) {
    for (const auto& line : check_input_lines(meminfo)) {
        if (line.size() <= field.size() || line.compare(0, field.size(), field) != 0 ||
            line[field.size()] != ':') {
            continue;
        }
        const auto words = split_words(std::string_view(line).substr(field.size() + 1));
        if (words.empty()) {
            return std::nullopt;
        }
        const auto number = to_number(words[0]);
        if (!number) {
            return std::nullopt;
        }
        const bool kilobytes = words.size() > 1 && words[1] == "kB";
        return kilobytes ? *number * 1024 : *number;
    }
    return std::nullopt;
}

std::optional<PortRange> parse_port_range(std::string_view text) {
    const auto words = split_words(text);
    if (words.size() != 2) {
        return std::nullopt;
    }
    const auto first = to_number(words[0]);
    const auto last = to_number(words[1]);
    if (!first || !last || *first > *last || *last > 65535) {
        return std::nullopt;
    }
    return PortRange{static_cast<int>(*first), static_cast<int>(*last)};
}

std::optional<std::vector<PortRange>> parse_reserved_ports(std::string_view text) {
    std::vector<PortRange> ranges;
    const std::string all = trim(text);
    std::size_t start = 0;
    while (start < all.size()) {
        auto comma = all.find(',', start);
        if (comma == std::string::npos) {
            comma = all.size();
        }
        const std::string item = trim(std::string_view(all).substr(start, comma - start));
        const auto dash = item.find('-');
        const auto first = to_number(std::string_view(item).substr(0, dash));
        const auto last =
            dash == std::string::npos ? first : to_number(std::string_view(item).substr(dash + 1));
        if (!first || !last || *first > *last || *last > 65535) {
            return std::nullopt;
        }
        ranges.push_back({static_cast<int>(*first), static_cast<int>(*last)});
        start = comma + 1;
    }
    return ranges;
}

std::optional<PortRange> parse_netsh_dynamic_ports(std::string_view text) {
    std::vector<std::uint64_t> numbers;  // start port, number of ports: whatever the labels say
    for (const auto& line : check_input_lines(text)) {
        const auto colon = line.rfind(':');
        if (colon == std::string::npos) {
            continue;
        }
        if (const auto number = to_number(trim(std::string_view(line).substr(colon + 1)))) {
            numbers.push_back(*number);
        }
    }
    if (numbers.size() != 2 || numbers[0] == 0 || numbers[1] == 0 ||
        numbers[0] + numbers[1] - 1 > 65535) {
        return std::nullopt;
    }
    return PortRange{static_cast<int>(numbers[0]), static_cast<int>(numbers[0] + numbers[1] - 1)};
}

std::optional<std::vector<ExcludedPortRange>> parse_netsh_excluded_ports(std::string_view text) {
    const auto lines = check_input_lines(text);
    auto line = std::find_if(lines.begin(), lines.end(), [](const std::string& candidate) {
        return is_dashed_rule(candidate);
    });
    if (line == lines.end()) {
        return std::nullopt;
    }
    std::vector<ExcludedPortRange> ranges;
    for (++line; line != lines.end(); ++line) {
        const auto words = split_words(*line);
        if (words.empty()) {
            continue;
        }
        if (words[0].front() == '*') {
            break;  // the footnote: "* - Administered port exclusions."
        }
        const auto range = excluded_range_line(words);
        if (!range) {
            return std::nullopt;
        }
        ranges.push_back(*range);
    }
    return ranges;
}

std::optional<std::uint64_t> parse_cgroup_limit(std::string_view text) {
    return to_number(trim(text));
}

std::optional<std::uint64_t> parse_max_heap(std::string_view options) {
    std::optional<std::uint64_t> heap;
    for (const auto& word : split_words(options)) {
        std::string_view option = word;
        if (option.rfind("-Xmx", 0) == 0) {
            if (auto size = jvm_size(option.substr(4))) {
                heap = size;
            }
        } else if (option.rfind("-XX:MaxHeapSize=", 0) == 0) {
            if (auto size = jvm_size(option.substr(16))) {
                heap = size;
            }
        }
    }
    return heap;
}

std::string format_reserved_ports(std::vector<int> ports) {
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    std::string text;
    for (std::size_t i = 0; i < ports.size();) {
        std::size_t j = i;
        while (j + 1 < ports.size() && ports[j + 1] == ports[j] + 1) {
            ++j;
        }
        if (!text.empty()) {
            text += ",";
        }
        text += std::to_string(ports[i]);
        if (j > i) {
            text += "-" + std::to_string(ports[j]);
        }
        i = j + 1;
    }
    return text;
}

}  // namespace carbon
