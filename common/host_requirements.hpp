#pragma once

#include <optional>
#include <string>
#include <vector>

#include "health_spec.hpp"
#include "json_reader.hpp"

namespace carbon {

/// The JDK majors a range of pack versions supports ("min" to "max", inclusive), as its start
/// scripts state them. 1.7 and 1.8 are majors 7 and 8.
struct JdkRange {
    std::optional<PackVersion> from;    // inclusive; none: from the first
    std::optional<PackVersion> before;  // exclusive; none: up to the last
    int min_major = 0;
    int max_major = 0;
    std::string sources;

    bool covers(const PackVersion& version) const;
    std::string describe_range() const;  // "4.3.0 up to (not including) 4.7.0"
};

/// JDK builds that break packs whose start scripts lack a work-around option.
struct JdkTrap {
    std::vector<std::string> versions;  // exact JAVA_VERSION strings: "17.0.8"
    std::string unless_script_contains;
    std::string why;
    std::string sources;
};

/// How a pack's start script sizes its heap and what else its JVMs take.
struct MemoryFacts {
    std::string default_options = "-Xms256m -Xmx1024m";  // the script's own heap options
    /// The variable that replaces default_options when set ("JVM_MEM_OPTS" in API-M's .sh);
    /// "" when the script hard-codes them.
    std::string replaced_by_linux;
    std::string replaced_by_windows;
    std::string appended = "JAVA_OPTS";  // passed after them: its last -Xmx wins
    double non_heap_ratio = 0.5;         // estimate: metaspace, code cache, threads, buffers
    int non_heap_min_mb = 256;
    int diagnostics_jvm_mb = 0;  // a second JVM the pack starts (API-M 4.3+)
    std::optional<PackVersion> diagnostics_from;
    std::string sources;
};

/// What one running instance needs of the host.
struct InstanceNeeds {
    int nofile = 4096;  // RLIMIT_NOFILE of each JVM
    int nproc = 1024;   // threads: RLIMIT_NPROC counts them per user, TasksMax per unit
    int log_headroom_mb = 1024;
    std::string heap_dump;  // relative to the home: where -XX:HeapDumpPath points
    std::string sources;
};

/// The "host" section of a runtime table: the facts `carbon-launcher check` holds a host to.
struct HostRequirements {
    std::vector<JdkRange> jdk;
    std::vector<JdkTrap> jdk_traps;
    MemoryFacts memory;
    InstanceNeeds needs;

    /// The range covering `version`, or nullptr.
    const JdkRange* jdk_range_for(const PackVersion& version) const;
};

/// Parses a runtime table's "host" object; problems go to the reader's diagnostics.
HostRequirements parse_host_requirements(JsonFieldReader& host);

}  // namespace carbon
