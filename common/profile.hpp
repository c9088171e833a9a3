#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "health_spec.hpp"
#include "port_table.hpp"

namespace carbon {

enum class Platform { Linux, Windows };

/// Characters that cmd.exe cannot pass to a batch file intact (% expands variables even inside
/// quotes; a quote ends the quoting; a line break ends the command).
inline constexpr const char* kCmdExeUnpassable = "\"%\r\n";

/// The platform this binary was built for.
Platform host_platform();

/// When an instance that ended on its own is started again (supervisord's autorestart).
enum class RestartPolicy { Never, OnFailure, Always };

/// "never", "on-failure", "always": the profile's and systemd's spelling.
std::string to_string(RestartPolicy policy);

struct RestartSettings {
    RestartPolicy policy = RestartPolicy::OnFailure;
    int delay_ms = 1000;       // first backoff delay
    int max_delay_ms = 60000;  // backoff cap
    int max_retries = 5;       // failed starts in a row before Fatal
    int reset_after_s = 60;    // ready this long: the failure count starts again
};

/// What makes a starting instance Running: its startup line or its ready port ("line-or-port"),
/// or every port it opens by default ("all-ports").
enum class ReadyMode { LineOrPort, AllPorts };

/// One port of one instance after the table, the instance's own config file and the profile's
/// overrides have been merged.
struct InstancePort {
    std::string key;
    int base = 0;
    std::string purpose;
    bool follows_offset = true;
    bool default_open = true;  // opened by default: readiness may wait for it
    bool reserved = true;      // the planner keeps it free for this instance
    bool ready_probe = false;
    std::string config_key;  // for a fixed port: how to move it
    std::string origin;      // "table", "config file" or "profile"

    int effective(int offset) const { return follows_offset ? base + offset : base; }
};

/// Per-instance limits ("limits" in a profile), written into the instance's cgroup (memory.max,
/// pids.max) when it runs in one with those controllers; nullopt: no limit.
struct ResourceLimits {
    std::optional<std::uint64_t> memory_max;  // bytes
    std::optional<std::uint64_t> pids_max;    // tasks: a JVM's threads count too
    bool empty() const { return !memory_max && !pids_max; }
};

/// A validated instance profile (one JSON file).
struct Profile {
    std::filesystem::path source;
    std::string
        fingerprint;  // the profile's JSON, normalised: a reload restarts it when it changes
    std::string name;
    std::string runtime;
    std::filesystem::path home;
    std::optional<int> offset;  // nullopt: "auto"
    OffsetMethod offset_method = OffsetMethod::Argument;
    std::vector<std::string> args;
    std::string java_home;
    std::map<std::string, std::string> env;
    std::vector<std::string> after;
    bool after_given = false;  // "after" in the profile; without it split packs follow their peers
    RestartSettings restart;
    int ready_timeout_s = 300;
    ReadyMode ready_mode = ReadyMode::LineOrPort;
    int stop_timeout_s = 60;
    std::string user;
    int log_max_size_mb = 50;
    int log_max_files = 5;
    bool autostart = true;
    bool update_advertised_urls = false;
    std::string host = "localhost";  // host name used in the URLs shown to operators
    ResourceLimits limits;
    /// API-M split packs: the role ("role", else the start script's), the peers the profile
    /// names ("connect"), and the peers it is paired with once the whole set is loaded.
    std::optional<SplitRole> role;
    ConnectSpec connect;
    SplitPeers peers;

    std::filesystem::path script;     // absolute path of the start script
    std::vector<InstancePort> ports;  // resolved port set
    /// The probes: the runtime table's for this flavour and pack version, then "health".
    HealthSpec health;
    const RuntimeTable* table = nullptr;

    /// The highest offset at which every reserved port stays within 65535.
    int max_offset() const;
    /// The port named `key`, or nullptr.
    const InstancePort* find_port(const std::string& key) const;
    /// The port `probe` connects to at `at_offset`; nullopt when the instance has no such port
    /// (never for a loaded profile: loading checks every probe's port).
    std::optional<int> probe_port(const ProbeSpec& probe, int at_offset) const;
};

/// Loads and validates every *.json profile in `dir`. Throws ConfigError listing every problem
/// of every file; nothing is returned unless all profiles are valid together.
std::vector<Profile> load_profiles(const std::filesystem::path& dir, const RuntimeCatalog& catalog,
                                   Platform platform = host_platform());

/// Validates one profile's text; cross-profile checks (duplicates, shared homes, `after`) are
/// done by load_profiles. Diagnostics are appended; the result is meaningful only if none were.
Profile parse_profile(const std::string& text, const std::filesystem::path& source,
                      const RuntimeCatalog& catalog, Platform platform,
                      std::vector<Diagnostic>& diagnostics);

/// Cross-profile checks: duplicate names, shared homes, split-pack pairing ("connect"; fills
/// `peers` and a default `after`), unknown or cyclic `after`.
void check_profile_set(std::vector<Profile>& profiles, std::vector<Diagnostic>& diagnostics);

/// Resolves a runtime's port set for one home: table, then the home's config file (SI family),
/// then the profile's "ports" overrides.
std::vector<InstancePort> table_ports(const RuntimeTable& table);

}  // namespace carbon
