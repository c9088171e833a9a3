#include "health_spec.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "diagnostics.hpp"
#include "json_reader.hpp"

namespace carbon {

std::string to_string(ProbeKind kind) {
    switch (kind) {
        case ProbeKind::Tcp:
            return "tcp";
        case ProbeKind::Http:
            return "http";
        case ProbeKind::Https:
            return "https";
    }
    return "?";
}

std::optional<ProbeKind> parse_probe_kind(const std::string& text) {
    if (text == "tcp") {
        return ProbeKind::Tcp;
    }
    if (text == "http") {
        return ProbeKind::Http;
    }
    if (text == "https") {
        return ProbeKind::Https;
    }
    return std::nullopt;
}

std::string to_string(ProbeRole role) {
    switch (role) {
        case ProbeRole::Startup:
            return "startup";
        case ProbeRole::Readiness:
            return "readiness";
        case ProbeRole::Liveness:
            return "liveness";
    }
    return "?";
}

std::string describe_probe(const ProbeSpec& probe, int port) {
    if (probe.kind == ProbeKind::Tcp) {
        return "TCP connect to 127.0.0.1:" + std::to_string(port);
    }
    return "GET " + to_string(probe.kind) + "://localhost:" + std::to_string(port) + probe.path +
           " (expects " + std::to_string(probe.expected_status) + ")";
}

std::string PackVersion::to_string() const {
    return std::to_string(numbers[0]) + "." + std::to_string(numbers[1]) + "." +
           std::to_string(numbers[2]);
}

namespace {

bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}

/// "4", "4.4" or "4.4.0" exactly (each part at most 6 digits), as a version.
std::optional<PackVersion> parse_dotted_version(std::string_view text) {
    PackVersion version;
    std::size_t part = 0;
    std::size_t digits = 0;
    for (const char c : text) {
        if (is_ascii_digit(c) && digits < 6) {
            version.numbers[part] = version.numbers[part] * 10 + (c - '0');
            ++digits;
        } else if (c == '.' && digits > 0 && part < 2) {
            ++part;
            digits = 0;
        } else {
            return std::nullopt;
        }
    }
    if (digits == 0) {
        return std::nullopt;
    }
    return version;
}

}  // namespace

std::optional<PackVersion> parse_pack_version(std::string_view text) {
    // The last run of digits and dots that holds at least one dot: "WSO2 API Manager-4.4.0".
    std::optional<PackVersion> found;
    std::size_t at = 0;
    while (at < text.size()) {
        if (!is_ascii_digit(text[at])) {
            ++at;
            continue;
        }
        std::size_t end = at;
        while (end < text.size() && (is_ascii_digit(text[end]) || text[end] == '.')) {
            ++end;
        }
        std::string_view run = text.substr(at, end - at);
        while (!run.empty() && run.back() == '.') {
            run.remove_suffix(1);
        }
        const std::size_t dots = static_cast<std::size_t>(std::count(run.begin(), run.end(), '.'));
        if (dots >= 1 && dots <= 2) {
            if (const auto version = parse_dotted_version(run)) {
                found = version;
            }
        }
        at = end;
    }
    return found;
}

const std::optional<ProbeSpec>& HealthSpec::probe(ProbeRole role) const {
    switch (role) {
        case ProbeRole::Startup:
            return startup;
        case ProbeRole::Readiness:
            return readiness;
        case ProbeRole::Liveness:
            break;
    }
    return liveness;
}

std::optional<ProbeSpec>& HealthSpec::probe(ProbeRole role) {
    return const_cast<std::optional<ProbeSpec>&>(std::as_const(*this).probe(role));
}

const std::optional<ProbePatch>& HealthPatch::patch(ProbeRole role) const {
    switch (role) {
        case ProbeRole::Startup:
            return startup;
        case ProbeRole::Readiness:
            return readiness;
        case ProbeRole::Liveness:
            break;
    }
    return liveness;
}

bool VersionRangeHealth::applies_to(const PackVersion& version, const std::string& flavour) const {
    if (from && version < *from) {
        return false;
    }
    if (before && !(version < *before)) {
        return false;
    }
    return flavours.empty() ||
           std::find(flavours.begin(), flavours.end(), flavour) != flavours.end();
}

std::string VersionRangeHealth::describe_range() const {
    if (from && before) {
        return from->to_string() + " up to (not including) " + before->to_string();
    }
    if (from) {
        return from->to_string() + " and later";
    }
    return before ? "before " + before->to_string() : "every version";
}

const FlavourHealth* HealthTable::find_flavour(const std::string& name) const {
    for (const auto& flavour : flavours) {
        if (flavour.name == name) {
            return &flavour;
        }
    }
    return nullptr;
}

std::vector<std::string> HealthTable::flavour_names() const {
    std::vector<std::string> names;
    for (const auto& flavour : flavours) {
        names.push_back(flavour.name);
    }
    return names;
}

std::string detect_flavour(const HealthTable& table, const std::filesystem::path& script,
                           const std::vector<std::string>& args) {
    static const std::string kProfileArgument = "-Dprofile=";
    for (const auto& arg : args) {
        if (arg.rfind(kProfileArgument, 0) != 0) {
            continue;
        }
        const std::string value = arg.substr(kProfileArgument.size());
        for (const auto& flavour : table.flavours) {
            if (std::find(flavour.profiles.begin(), flavour.profiles.end(), value) !=
                flavour.profiles.end()) {
                return flavour.name;
            }
        }
    }
    const std::string stem = script.stem().string();
    for (const auto& flavour : table.flavours) {
        if (std::find(flavour.scripts.begin(), flavour.scripts.end(), stem) !=
            flavour.scripts.end()) {
            return flavour.name;
        }
    }
    return "";
}

void apply_probe_patch(const ProbePatch& patch, std::optional<ProbeSpec>& probe,
                       int& failure_threshold) {
    if (patch.off) {
        probe.reset();
        return;
    }
    if (!probe) {
        probe.emplace();
    }
    if (patch.kind) {
        probe->kind = *patch.kind;
    }
    if (patch.port_key) {
        probe->port_key = *patch.port_key;
    }
    if (patch.path) {
        probe->path = *patch.path;
    }
    if (patch.expected_status) {
        probe->expected_status = *patch.expected_status;
    }
    if (patch.timeout) {
        probe->timeout = *patch.timeout;
    }
    if (patch.interval) {
        probe->interval = *patch.interval;
    }
    if (patch.failure_threshold) {
        failure_threshold = *patch.failure_threshold;
    }
    if (probe->kind == ProbeKind::Tcp) {
        probe->path.clear();  // a TCP connect sends no request
    }
}

void apply_health_patch(const HealthPatch& patch, HealthSpec& health) {
    for (const ProbeRole role : kProbeRoles) {
        if (const auto& probe_patch = patch.patch(role)) {
            int ignored_threshold = 0;
            apply_probe_patch(*probe_patch, health.probe(role),
                              role == ProbeRole::Liveness ? health.liveness_failure_threshold
                                                          : ignored_threshold);
        }
    }
    if (!patch.sources.empty()) {
        health.sources.push_back(patch.sources);
    }
}

HealthSpec resolve_health(const HealthTable& table, const std::string& flavour,
                          const std::optional<PackVersion>& version) {
    HealthSpec health;
    apply_health_patch(table.defaults, health);
    if (const FlavourHealth* entry = table.find_flavour(flavour)) {
        health.flavour = entry->name;
        apply_health_patch(entry->patch, health);
    }
    health.pack_version = version;
    if (version) {
        for (const auto& range : table.versions) {
            if (range.applies_to(*version, health.flavour)) {
                apply_health_patch(range.patch, health);
            }
        }
    }
    return health;
}

std::vector<HealthProblem> check_health(const HealthSpec& health,
                                        const std::vector<std::string>& port_keys) {
    std::vector<HealthProblem> problems;
    for (const ProbeRole role : kProbeRoles) {
        const auto& probe = health.probe(role);
        if (!probe) {
            continue;
        }
        const std::string name = "the " + to_string(role) + " probe";
        if (probe->port_key.empty()) {
            problems.push_back({role, name + " names no port; give \"port\", a key of the port "
                                             "table such as \"https-servlet\""});
        } else if (std::find(port_keys.begin(), port_keys.end(), probe->port_key) ==
                   port_keys.end()) {
            problems.push_back({role, name + " probes port \"" + probe->port_key +
                                          "\", which this instance does not have" +
                                          did_you_mean(probe->port_key, port_keys)});
        }
        if (probe->kind != ProbeKind::Tcp && probe->path.empty()) {
            problems.push_back({role, name + " is " + to_string(probe->kind) +
                                          " but has no \"path\"; give the request path, e.g. "
                                          "\"/services/Version\", or make it \"tcp\""});
        }
    }
    return problems;
}

namespace {

const std::vector<std::string> kProbeSettingKeys = {
    "kind", "port", "path", "expected_status", "timeout_s", "interval_s", "failure_threshold"};
const std::vector<std::string> kProbeKindNames = {"tcp", "http", "https"};
constexpr std::size_t kMaxProbePathBytes = 2048;
constexpr const char* kProbeExample =
    "{\"kind\": \"http\", \"port\": \"http-servlet\", \"path\": \"/services/Version\"}";

/// The path goes into the request line: a space or a control character would end it or start a
/// header of its own.
bool is_request_path(const std::string& path) {
    if (path.empty() || path.front() != '/' || path.size() > kMaxProbePathBytes) {
        return false;
    }
    return std::none_of(path.begin(), path.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte <= 0x20 || byte == 0x7F;
    });
}

void read_probe_kind(JsonFieldReader& probe, ProbePatch& patch) {
    if (!probe.has("kind") || !probe.child("kind")->is_string()) {
        probe.string("kind");  // reports a wrong type
        return;
    }
    const std::string text = probe.string("kind");
    patch.kind = parse_probe_kind(text);
    if (!patch.kind) {
        probe.error("kind", "\"" + text + "\" is not a probe kind" +
                                did_you_mean(text, kProbeKindNames) +
                                "; use \"tcp\", \"http\" or \"https\"");
    }
}

void read_probe_port(JsonFieldReader& probe, ProbePatch& patch,
                     const std::vector<std::string>& port_keys) {
    if (!probe.has("port") || !probe.child("port")->is_string()) {
        probe.string("port");
        return;
    }
    const std::string key = probe.string("port");
    if (std::find(port_keys.begin(), port_keys.end(), key) == port_keys.end()) {
        probe.error("port", "no port \"" + key + "\" in the port table" +
                                did_you_mean(key, port_keys) +
                                "; name a key of the table (`carbon-launcher ports` lists them)");
        return;
    }
    patch.port_key = key;
}

void read_probe_path(JsonFieldReader& probe, ProbePatch& patch) {
    if (!probe.has("path") || !probe.child("path")->is_string()) {
        probe.string("path");
        return;
    }
    const std::string path = probe.string("path");
    if (!is_request_path(path)) {
        probe.error("path",
                    "\"" + to_valid_utf8(path) +
                        "\" is not a request path; give one that starts with '/' and "
                        "holds no spaces or control characters, e.g. \"/services/Version\"");
        return;
    }
    patch.path = path;
}

std::optional<std::chrono::milliseconds> read_seconds(JsonFieldReader& probe,
                                                      const std::string& key, long long max) {
    if (!probe.has(key)) {
        return std::nullopt;
    }
    return std::chrono::seconds(probe.integer(key, 1, 1, max));
}

ProbePatch read_probe_object(JsonFieldReader& probe, ProbeRole role,
                             const std::vector<std::string>& port_keys) {
    ProbePatch patch;
    read_probe_kind(probe, patch);
    read_probe_port(probe, patch, port_keys);
    read_probe_path(probe, patch);
    if (probe.has("expected_status")) {
        patch.expected_status = static_cast<int>(probe.integer("expected_status", 200, 100, 599));
    }
    patch.timeout = read_seconds(probe, "timeout_s", 300);
    patch.interval = read_seconds(probe, "interval_s", 86400);
    if (probe.has("failure_threshold")) {
        if (role == ProbeRole::Liveness) {
            patch.failure_threshold =
                static_cast<int>(probe.integer("failure_threshold", 3, 1, 100));
        } else {
            probe.error("failure_threshold",
                        "only the liveness probe has a failure threshold: the " + to_string(role) +
                            " probe is retried until ready.timeout_s; remove it");
        }
    }
    if (patch.kind == ProbeKind::Tcp && patch.path) {
        probe.error("path",
                    "a tcp probe only connects and sends no request; remove \"path\" or "
                    "make the kind \"http\" or \"https\"");
    }
    probe.reject_unknown_keys(kProbeSettingKeys);
    return patch;
}

/// One probe setting of `parent` (its key is the role's name): "off", or an object laid over the
/// probe it changes.
std::optional<ProbePatch> read_probe_patch(JsonFieldReader& parent, ProbeRole role,
                                           const std::vector<std::string>& port_keys) {
    const std::string key = to_string(role);
    const auto* value = parent.child(key);
    if (value == nullptr) {
        return std::nullopt;
    }
    if (value->is_string() && value->get<std::string>() == "off") {
        ProbePatch off;
        off.off = true;
        return off;
    }
    if (!value->is_object()) {
        parent.error(key, to_valid_utf8(value->dump()) + " is not a probe setting; write \"off\" " +
                              "to turn the " + key + " probe off, or an object such as " +
                              kProbeExample);
        return std::nullopt;
    }
    JsonFieldReader probe(*value, parent.file(), parent.pointer_to(key), parent.diagnostics());
    return read_probe_object(probe, role, port_keys);
}

HealthPatch read_health_patch(JsonFieldReader& reader, const std::vector<std::string>& port_keys) {
    HealthPatch patch;
    patch.startup = read_probe_patch(reader, ProbeRole::Startup, port_keys);
    patch.readiness = read_probe_patch(reader, ProbeRole::Readiness, port_keys);
    patch.liveness = read_probe_patch(reader, ProbeRole::Liveness, port_keys);
    patch.sources = reader.string("sources");
    return patch;
}

bool is_flavour_name(const std::string& name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || is_ascii_digit(c) || c == '-';
    });
}

FlavourHealth read_flavour(JsonFieldReader& entry, const std::vector<std::string>& port_keys) {
    FlavourHealth flavour;
    flavour.name = entry.required_string("name", "name the flavour, e.g. \"gateway\"");
    if (entry.has("name") && entry.child("name")->is_string() && !is_flavour_name(flavour.name)) {
        entry.error("name", "\"" + to_valid_utf8(flavour.name) +
                                "\" is not a flavour name; use a-z, 0-9 and '-'");
    }
    flavour.scripts = entry.string_list("scripts");
    flavour.profiles = entry.string_list("profiles");
    flavour.patch = read_health_patch(entry, port_keys);
    entry.reject_unknown_keys(
        {"name", "scripts", "profiles", "sources", "startup", "readiness", "liveness"});
    return flavour;
}

std::optional<PackVersion> read_range_bound(JsonFieldReader& entry, const std::string& key) {
    if (!entry.has(key) || !entry.child(key)->is_string()) {
        entry.string(key);
        return std::nullopt;
    }
    const std::string text = entry.string(key);
    auto version = parse_dotted_version(text);
    if (!version) {
        entry.error(key, "\"" + to_valid_utf8(text) +
                             "\" is not a version; write it as in bin/version.txt, e.g. \"4.3.0\"");
    }
    return version;
}

VersionRangeHealth read_version_range(JsonFieldReader& entry, const HealthTable& table,
                                      const std::vector<std::string>& port_keys) {
    VersionRangeHealth range;
    range.from = read_range_bound(entry, "from");
    range.before = read_range_bound(entry, "before");
    if (!entry.has("from") && !entry.has("before")) {
        entry.error("",
                    "a version range needs \"from\" (inclusive) and/or \"before\" "
                    "(exclusive), e.g. {\"from\": \"4.3.0\", \"before\": \"4.4.0\"}");
    } else if (range.from && range.before && !(*range.from < *range.before)) {
        entry.error("before", range.before->to_string() + " is not after \"from\" (" +
                                  range.from->to_string() + "): the range is empty");
    }
    range.flavours = entry.string_list("flavours");
    const std::vector<std::string> names = table.flavour_names();
    for (std::size_t i = 0; i < range.flavours.size(); ++i) {
        const std::string& name = range.flavours[i];
        if (table.find_flavour(name) == nullptr) {
            entry.diagnostics().push_back(
                {entry.file(), entry.pointer_to("flavours") + "/" + std::to_string(i),
                 "no flavour \"" + name + "\" in this table" + did_you_mean(name, names)});
        }
    }
    range.patch = read_health_patch(entry, port_keys);
    entry.reject_unknown_keys(
        {"from", "before", "flavours", "sources", "startup", "readiness", "liveness"});
    return range;
}

void report_health_problems(JsonFieldReader& probes, const HealthSpec& health,
                            const std::vector<std::string>& port_keys, const std::string& context,
                            std::set<std::string>& reported) {
    for (const auto& problem : check_health(health, port_keys)) {
        const std::string message = context + problem.message;
        if (reported.insert(message).second) {
            probes.error("", message);
        }
    }
}

/// Resolves every flavour (and none) with and without each version range that applies to it, so
/// that a table whose entries leave a probe without a port or a path fails when it loads, not
/// when an instance of that flavour and version does.
void check_health_table(JsonFieldReader& probes, const HealthTable& table,
                        const std::vector<std::string>& port_keys) {
    std::vector<std::string> flavours = {""};
    for (const auto& name : table.flavour_names()) {
        flavours.push_back(name);
    }
    std::set<std::string> reported;
    for (const auto& flavour : flavours) {
        const std::string label = flavour.empty() ? "the defaults" : "flavour \"" + flavour + "\"";
        const HealthSpec base = resolve_health(table, flavour, std::nullopt);
        report_health_problems(probes, base, port_keys, label + ": ", reported);
        for (const auto& range : table.versions) {
            if (!range.flavours.empty() && std::find(range.flavours.begin(), range.flavours.end(),
                                                     flavour) == range.flavours.end()) {
                continue;
            }
            HealthSpec ranged = base;
            apply_health_patch(range.patch, ranged);
            report_health_problems(probes, ranged, port_keys,
                                   label + " for versions " + range.describe_range() + ": ",
                                   reported);
        }
    }
}

}  // namespace

HealthTable parse_health_table(JsonFieldReader& probes, const std::vector<std::string>& port_keys) {
    HealthTable table;
    table.defaults = read_health_patch(probes, port_keys);
    for_each_object_entry(probes, "flavours", [&](JsonFieldReader& entry) {
        FlavourHealth flavour = read_flavour(entry, port_keys);
        if (!flavour.name.empty() && table.find_flavour(flavour.name) != nullptr) {
            entry.error("name", "flavour \"" + flavour.name + "\" is listed twice; merge the two");
            return;
        }
        table.flavours.push_back(std::move(flavour));
    });
    for_each_object_entry(probes, "versions", [&](JsonFieldReader& entry) {
        table.versions.push_back(read_version_range(entry, table, port_keys));
    });
    table.version_file = probes.string("version_file");
    probes.reject_unknown_keys(
        {"startup", "readiness", "liveness", "sources", "flavours", "versions", "version_file"});
    check_health_table(probes, table, port_keys);
    return table;
}

HealthPatch parse_health_patch(JsonFieldReader& health, const std::vector<std::string>& port_keys) {
    HealthPatch patch;
    patch.startup = read_probe_patch(health, ProbeRole::Startup, port_keys);
    patch.readiness = read_probe_patch(health, ProbeRole::Readiness, port_keys);
    patch.liveness = read_probe_patch(health, ProbeRole::Liveness, port_keys);
    return patch;
}

}  // namespace carbon
