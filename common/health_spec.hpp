#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carbon {

class JsonFieldReader;

/// How a probe asks: a TCP connect, or a GET over HTTP or HTTPS (no certificate check: the
/// packs' certificates are self-signed and the probe only talks to 127.0.0.1).
enum class ProbeKind { Tcp, Http, Https };

/// "tcp", "http", "https": the tables' and profiles' spelling.
std::string to_string(ProbeKind kind);
/// The kind spelled `text`, or nullopt.
std::optional<ProbeKind> parse_probe_kind(const std::string& text);

/// What a probe decides: startup (the server is up: its port answers), readiness (it can take
/// work: Running) and liveness (it still works: after failure_threshold failures in a row it is
/// dumped and restarted).
enum class ProbeRole { Startup, Readiness, Liveness };

/// "startup", "readiness", "liveness": the key of the probe in tables and profiles.
std::string to_string(ProbeRole role);
inline constexpr std::array<ProbeRole, 3> kProbeRoles = {ProbeRole::Startup, ProbeRole::Readiness,
                                                         ProbeRole::Liveness};

/// One probe, resolved: what to ask, on which port of the instance (a key of its port table,
/// moved by its offset), and how long to wait.
struct ProbeSpec {
    ProbeKind kind = ProbeKind::Tcp;
    std::string port_key;
    std::string path;  // HTTP(S) only; starts with '/'
    int expected_status = 200;
    std::chrono::milliseconds timeout{5000};    // the whole probe: connect, TLS, request, answer
    std::chrono::milliseconds interval{10000};  // from the end of one probe to the next

    bool operator==(const ProbeSpec&) const = default;
};

/// "GET https://localhost:9443/path (expects 200)" or "TCP connect to 127.0.0.1:9443": how logs
/// and `status` name a probe.
std::string describe_probe(const ProbeSpec& probe, int port);

/// A pack's version as its home states it (HOME/bin/version.txt: "WSO2 API Manager-4.4.0").
struct PackVersion {
    std::array<int, 3> numbers{};  // 4.4.0 -> {4, 4, 0}

    auto operator<=>(const PackVersion&) const = default;
    std::string to_string() const;
};

/// The last dotted number in `text` ("WSO2 API Manager-4.4.0" -> 4.4.0, "4.3" -> 4.3.0), or
/// nullopt when it holds none.
std::optional<PackVersion> parse_pack_version(std::string_view text);

/// The health settings of one instance: its runtime's defaults for its flavour and version, then
/// its profile's own "health" settings. An absent probe is off.
struct HealthSpec {
    std::optional<ProbeSpec> startup;
    std::optional<ProbeSpec> readiness;
    std::optional<ProbeSpec> liveness;
    int liveness_failure_threshold = 3;  // consecutive failed liveness probes: unhealthy
    std::string flavour;                 // "gateway", ...; "" when the table names none
    std::optional<PackVersion> pack_version;
    /// Where every setting came from, in the order applied: the table's "sources" of the
    /// defaults, the flavour and each version range, then "profile" when it changed anything.
    std::vector<std::string> sources;

    const std::optional<ProbeSpec>& probe(ProbeRole role) const;
    std::optional<ProbeSpec>& probe(ProbeRole role);
};

/// A partial probe setting, as a table entry or a profile writes it: the fields it gives replace
/// those of the probe it changes; `off` turns the probe off.
struct ProbePatch {
    bool off = false;
    std::optional<ProbeKind> kind;
    std::optional<std::string> port_key;
    std::optional<std::string> path;
    std::optional<int> expected_status;
    std::optional<std::chrono::milliseconds> timeout;
    std::optional<std::chrono::milliseconds> interval;
    std::optional<int> failure_threshold;  // liveness only
};

/// A partial health setting: up to one patch per probe.
struct HealthPatch {
    std::optional<ProbePatch> startup;
    std::optional<ProbePatch> readiness;
    std::optional<ProbePatch> liveness;
    std::string sources;

    const std::optional<ProbePatch>& patch(ProbeRole role) const;
    bool empty() const { return !startup && !readiness && !liveness; }
};

/// A pack flavour whose probes differ from the runtime's defaults (API-M's control plane, gateway,
/// traffic manager, key manager). An instance is of this flavour when its profile passes
/// `-Dprofile=X` with X in `profiles`, or else when its start script is named in `scripts`.
struct FlavourHealth {
    std::string name;
    std::vector<std::string> scripts;   // file names without extension: "gateway" (gateway.sh/.bat)
    std::vector<std::string> profiles;  // -Dprofile values: "gateway-worker"
    HealthPatch patch;
};

/// Probes that differ for a range of pack versions, [from, before), for some flavours or all:
/// where a version has a known bug in an endpoint.
struct VersionRangeHealth {
    std::optional<PackVersion> from;    // inclusive; none: from the first
    std::optional<PackVersion> before;  // exclusive; none: up to the last
    std::vector<std::string> flavours;  // empty: every flavour
    HealthPatch patch;

    bool applies_to(const PackVersion& version, const std::string& flavour) const;
    std::string describe_range() const;  // "4.0.0 up to (not including) 4.3.0"
};

/// The "probes" section of a runtime table.
struct HealthTable {
    HealthPatch defaults;
    /// Where a home states its pack's version, relative to the home ("bin/version.txt"); "" when
    /// the runtime has no version ranges.
    std::string version_file;
    std::vector<FlavourHealth> flavours;
    std::vector<VersionRangeHealth> versions;

    const FlavourHealth* find_flavour(const std::string& name) const;
    std::vector<std::string> flavour_names() const;
};

/// The flavour of a pack started with `script` and `args`: a `-Dprofile=X` argument that a
/// flavour lists wins (API-M 4.0-4.4 start every profile through api-manager.sh), else the
/// script's name (4.5+ split packs: gateway.sh, ...); "" when neither matches.
std::string detect_flavour(const HealthTable& table, const std::filesystem::path& script,
                           const std::vector<std::string>& args);

/// Lays `patch` over `probe`. A patch over a probe that was off starts from ProbeSpec's defaults;
/// a patch that makes an HTTP probe a TCP one drops its path.
void apply_probe_patch(const ProbePatch& patch, std::optional<ProbeSpec>& probe,
                       int& failure_threshold);

/// Lays every probe patch of `patch` over `health` and records its sources.
void apply_health_patch(const HealthPatch& patch, HealthSpec& health);

/// The runtime's probes for `flavour` ("" for none) and `version` (nullopt when unknown: no
/// version range applies): the defaults, the flavour's patch, then each range that contains the
/// version, in the table's order.
HealthSpec resolve_health(const HealthTable& table, const std::string& flavour,
                          const std::optional<PackVersion>& version);

/// A resolved probe that cannot run: no port, an HTTP probe without a path, a port that the
/// instance does not have.
struct HealthProblem {
    ProbeRole role;
    std::string message;
};
std::vector<HealthProblem> check_health(const HealthSpec& health,
                                        const std::vector<std::string>& port_keys);

/// Parses a runtime table's "probes" object (`probes` reads it) and checks every flavour and
/// version combination it can resolve to; problems are added to `probes`'s diagnostics.
HealthTable parse_health_table(JsonFieldReader& probes, const std::vector<std::string>& port_keys);

/// Parses the probe settings of a profile's "health" object (its "startup", "readiness" and
/// "liveness"); other keys are the caller's to read and check.
HealthPatch parse_health_patch(JsonFieldReader& health, const std::vector<std::string>& port_keys);

}  // namespace carbon
