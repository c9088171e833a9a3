#include "profile.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <set>

#include "cgroup_paths.hpp"
#include "config_patch.hpp"
#include "diagnostics.hpp"
#include "json_reader.hpp"
#include "text_file.hpp"
#include "yaml_ports.hpp"

namespace carbon {

std::string to_string(RestartPolicy policy) {
    switch (policy) {
        case RestartPolicy::Never:
            return "never";
        case RestartPolicy::Always:
            return "always";
        case RestartPolicy::OnFailure:
            return "on-failure";
    }
    return "?";
}

Platform host_platform() {
#ifdef _WIN32
    return Platform::Windows;
#else
    return Platform::Linux;
#endif
}

int Profile::max_offset() const {
    int highest_base = 0;
    for (const auto& port : ports) {
        if (port.reserved && port.follows_offset) {
            highest_base = std::max(highest_base, port.base);
        }
    }
    return 65535 - highest_base;
}

const InstancePort* Profile::find_port(const std::string& key) const {
    for (const auto& port : ports) {
        if (port.key == key) {
            return &port;
        }
    }
    return nullptr;
}

std::optional<int> Profile::probe_port(const ProbeSpec& probe, int at_offset) const {
    const InstancePort* port = find_port(probe.port_key);
    if (port == nullptr) {
        return std::nullopt;
    }
    return port->effective(at_offset);
}

std::vector<InstancePort> table_ports(const RuntimeTable& table) {
    std::vector<InstancePort> ports;
    // Kept by every loaded profile for the daemon's lifetime: exactly the table's size, not the
    // next power of two that push_back grows to (2 KiB less per API-M instance).
    ports.reserve(table.ports.size());
    for (const auto& spec : table.ports) {
        InstancePort port;
        port.key = spec.key;
        port.base = spec.base;
        port.purpose = spec.purpose;
        port.follows_offset = spec.follows_offset;
        port.default_open = spec.default_open;
        // Ports that move with the offset are reserved even when off by default: a superset
        // never collides. A fixed optional port (Hazelcast 4000) would make every pair of
        // instances collide, so it is reserved only when a profile enables it.
        port.reserved = spec.default_open || spec.follows_offset;
        port.ready_probe = spec.ready_probe;
        port.config_key = spec.config_key;
        port.origin = "table";
        ports.push_back(port);
    }
    return ports;
}

namespace {

const std::vector<std::string> kProfileKeys = {
    "name",          "runtime", "home",      "offset",
    "offset_method", "args",    "java_home", "env",
    "after",         "restart", "ready",     "stop_timeout_s",
    "user",          "log",     "autostart", "update_advertised_urls",
    "host",          "ports",   "script",    "$schema",
    "description",   "limits",  "health",    "role",
    "connect"};

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 63 || name.front() == '-') {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
    std::string text;
    for (const auto& item : items) {
        text += (text.empty() ? "" : separator) + item;
    }
    return text;
}

/// The first control character (C0 or DEL) in `text`, or '\x20' (a space) when there is none.
char first_control_character(const std::string& text) {
    for (const char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
            return c;
        }
    }
    return ' ';
}

std::string describe_control_character(char c) {
    static const char* const kHex = "0123456789ABCDEF";
    const auto code = static_cast<unsigned char>(c);
    const std::string unicode = std::string("U+00") + kHex[code >> 4] + kHex[code & 0xF];
    switch (c) {
        case '\n':
            return "a line break (" + unicode + ")";
        case '\r':
            return "a carriage return (" + unicode + ")";
        case '\0':
            return "a NUL byte (" + unicode + ")";
        case '\t':
            return "a tab (" + unicode + ")";
        default:
            return "the control character " + unicode;
    }
}

/// Control characters cannot be passed through a unit file, a service's command line or an
/// environment block intact (a line break in a systemd unit starts a new directive; a NUL ends
/// the C string): refused wherever a profile's text reaches one of them.
bool check_no_control_characters(JsonFieldReader& reader, const std::string& pointer,
                                 const std::string& value, const std::string& what) {
    const char c = first_control_character(value);
    if (c == ' ') {
        return true;
    }
    reader.diagnostics().push_back(
        {reader.file(), pointer,
         what + " holds " + describe_control_character(c) +
             ", which cannot be passed on safely (a line break would start a new directive in "
             "an exported systemd unit); remove it"});
    return false;
}

bool valid_env_name(const std::string& name) {
    if (name.empty() || (name.front() >= '0' && name.front() <= '9')) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

void read_offset(JsonFieldReader& reader, Profile& profile) {
    const auto* value = reader.child("offset");
    if (value == nullptr) {
        return;  // auto
    }
    if (value->is_string()) {
        if (value->get<std::string>() != "auto") {
            reader.error("offset", "\"" + value->get<std::string>() +
                                       "\" is not an offset; use \"auto\" or an integer >= 0");
        }
        return;
    }
    if (!value->is_number_integer()) {
        reader.error("offset",
                     "expected \"auto\" or an integer >= 0, found " + json_type_name(*value));
        return;
    }
    const auto offset = integer_within(*value, 0, 65535);
    if (!offset) {
        reader.error("offset", value->dump() +
                                   " is out of range; use \"auto\" or an integer >= 0 that keeps "
                                   "every port within 65535");
        return;
    }
    profile.offset = static_cast<int>(*offset);
}

void read_offset_method(JsonFieldReader& reader, Profile& profile, const RuntimeTable* table) {
    const OffsetMethod fallback =
        table != nullptr && !table->supports_method(OffsetMethod::Argument)
            ? OffsetMethod::Config
            : OffsetMethod::Argument;
    const std::string text = reader.string("offset_method", to_string(fallback));
    const auto method = parse_offset_method(text);
    if (!method) {
        reader.error("offset_method", "\"" + text +
                                          "\" is not a method; use \"argument\" (-DportOffset) "
                                          "or \"config\" (the runtime's config file)");
        return;
    }
    profile.offset_method = *method;
    if (table != nullptr && !table->supports_method(profile.offset_method)) {
        reader.error("offset_method", table->runtime + " reads its offset only from " +
                                          table->config_file +
                                          "; use \"config\" or remove the field");
    }
}

void read_args(JsonFieldReader& reader, Profile& profile, Platform platform) {
    profile.args = reader.string_list("args");
    for (std::size_t i = 0; i < profile.args.size(); ++i) {
        const std::string& arg = profile.args[i];
        const std::string pointer = reader.pointer_to("args") + "/" + std::to_string(i);
        if (!check_no_control_characters(reader, pointer, arg, "the argument")) {
            continue;
        }
        if (platform == Platform::Linux && arg.find_first_of(" \t\n") != std::string::npos) {
            reader.diagnostics().push_back(
                {reader.file(), pointer,
                 "\"" + arg +
                     "\" contains whitespace, and the start scripts re-split their "
                     "arguments ($*), so it would arrive broken; remove the space or set the value "
                     "in "
                     "JAVA_OPTS through \"env\""});
        }
        if (platform == Platform::Windows &&
            arg.find_first_of(kCmdExeUnpassable) != std::string::npos) {
            reader.diagnostics().push_back(
                {reader.file(), pointer,
                 "\"" + arg +
                     "\" holds \" or % or a line break, which cmd.exe cannot pass to the .bat "
                     "intact; remove it, or set the value in JAVA_OPTS through \"env\""});
        }
        if (arg.rfind("-DportOffset", 0) == 0) {
            reader.diagnostics().push_back(
                {reader.file(), pointer,
                 "the launcher passes -DportOffset itself; set \"offset\" instead"});
        }
    }
}

void read_env(JsonFieldReader& reader, Profile& profile) {
    const auto* env = reader.child("env");
    if (env == nullptr) {
        return;
    }
    if (!env->is_object()) {
        reader.error(
            "env", "expected an object of NAME: \"value\" strings, found " + json_type_name(*env));
        return;
    }
    for (const auto& [key, value] : env->items()) {
        const std::string pointer = reader.pointer_to("env") + "/" + json_pointer_token(key);
        if (!value.is_string()) {
            reader.diagnostics().push_back(
                {reader.file(), pointer, "expected a string, found " + json_type_name(value)});
            continue;
        }
        if (key == "CARBON_HOME") {
            reader.diagnostics().push_back(
                {reader.file(), pointer,
                 "CARBON_HOME is set by the launcher to this instance's \"home\"; remove it"});
            continue;
        }
        if (key == "RUNTIME_HOME") {
            // SI's scripts default it to HOME/wso2/server; Carbon 5 names its config folder
            // after it, so any other value makes the JVM ignore the patched deployment.yaml.
            reader.diagnostics().push_back(
                {reader.file(), pointer,
                 "RUNTIME_HOME is left to the start script (HOME/wso2/server); remove it"});
            continue;
        }
        if (key == "JAVA_HOME") {
            reader.diagnostics().push_back(
                {reader.file(), pointer, "set JAVA_HOME with the \"java_home\" field instead"});
            continue;
        }
        if (!valid_env_name(key)) {
            reader.diagnostics().push_back(
                {reader.file(), pointer,
                 "\"" + to_valid_utf8(key) +
                     "\" is not a portable environment variable name; use letters, digits "
                     "and '_', not starting with a digit"});
            continue;
        }
        if (!check_no_control_characters(reader, pointer, value.get<std::string>(), "the value")) {
            continue;
        }
        profile.env[key] = value.get<std::string>();
    }
}

void read_restart(JsonFieldReader& reader, Profile& profile) {
    const auto* restart = reader.child("restart");
    if (restart == nullptr) {
        return;
    }
    if (!restart->is_object()) {
        reader.error("restart", "expected an object such as {\"policy\": \"on-failure\"}, found " +
                                    json_type_name(*restart));
        return;
    }
    JsonFieldReader sub(*restart, reader.file(), reader.pointer_to("restart"),
                        reader.diagnostics());
    auto& settings = profile.restart;
    const std::string policy = sub.string("policy", to_string(settings.policy));
    if (policy == "never") {
        settings.policy = RestartPolicy::Never;
    } else if (policy == "always") {
        settings.policy = RestartPolicy::Always;
    } else if (policy == "on-failure") {
        settings.policy = RestartPolicy::OnFailure;
    } else {
        sub.error("policy",
                  "\"" + policy +
                      "\" is not a restart policy; use \"never\", \"on-failure\" or \"always\"");
    }
    settings.delay_ms = static_cast<int>(sub.integer("delay_ms", settings.delay_ms, 0, 3600000));
    settings.max_delay_ms =
        static_cast<int>(sub.integer("max_delay_ms", settings.max_delay_ms, 0, 86400000));
    settings.max_retries =
        static_cast<int>(sub.integer("max_retries", settings.max_retries, 0, 1000000));
    settings.reset_after_s =
        static_cast<int>(sub.integer("reset_after_s", settings.reset_after_s, 1, 86400));
    if (settings.max_delay_ms < settings.delay_ms) {
        sub.error("max_delay_ms", "the cap (" + std::to_string(settings.max_delay_ms) +
                                      ") is below the first delay (" +
                                      std::to_string(settings.delay_ms) + "); raise max_delay_ms");
    }
    sub.reject_unknown_keys({"policy", "delay_ms", "max_delay_ms", "max_retries", "reset_after_s"});
}

void read_ready(JsonFieldReader& reader, Profile& profile) {
    const auto* ready = reader.child("ready");
    if (ready == nullptr) {
        return;
    }
    if (!ready->is_object()) {
        reader.error("ready", "expected an object such as {\"timeout_s\": 300}, found " +
                                  json_type_name(*ready));
        return;
    }
    JsonFieldReader sub(*ready, reader.file(), reader.pointer_to("ready"), reader.diagnostics());
    profile.ready_timeout_s =
        static_cast<int>(sub.integer("timeout_s", profile.ready_timeout_s, 1, 86400));
    const std::string mode = sub.string("mode", "line-or-port");
    if (mode == "all-ports") {
        profile.ready_mode = ReadyMode::AllPorts;
    } else if (mode != "line-or-port") {
        sub.error("mode", "\"" + mode +
                              "\" is not a readiness mode; use \"line-or-port\" or \"all-ports\"");
    }
    sub.reject_unknown_keys({"timeout_s", "mode"});
}

void read_log(JsonFieldReader& reader, Profile& profile) {
    const auto* log = reader.child("log");
    if (log == nullptr) {
        return;
    }
    if (!log->is_object()) {
        reader.error("log", "expected an object such as {\"max_size_mb\": 50}, found " +
                                json_type_name(*log));
        return;
    }
    JsonFieldReader sub(*log, reader.file(), reader.pointer_to("log"), reader.diagnostics());
    profile.log_max_size_mb =
        static_cast<int>(sub.integer("max_size_mb", profile.log_max_size_mb, 1, 10240));
    profile.log_max_files =
        static_cast<int>(sub.integer("max_files", profile.log_max_files, 1, 100));
    sub.reject_unknown_keys({"max_size_mb", "max_files"});
}

// memory_max: bytes, or "4G" (K, M, G, T: powers of 1024, as systemd's MemoryMax=), or "max".
std::optional<std::uint64_t> read_memory_max(JsonFieldReader& limits) {
    constexpr std::uint64_t kMinimum = 1 << 20;
    const auto* value = limits.child("memory_max");
    if (value == nullptr || (value->is_string() && value->get<std::string>() == "max")) {
        return std::nullopt;
    }
    std::optional<std::uint64_t> bytes;
    if (value->is_string()) {
        bytes = parse_memory_size(value->get<std::string>());
    } else if (const auto number =
                   integer_within(*value, 0, std::numeric_limits<long long>::max())) {
        bytes = static_cast<std::uint64_t>(*number);
    }
    if (!bytes) {
        limits.error("memory_max", to_valid_utf8(value->dump()) +
                                       " is not a memory size; use bytes, a number with K, M, G "
                                       "or T (e.g. \"4G\"), or \"max\" for no limit");
    } else if (*bytes < kMinimum) {
        limits.error("memory_max", to_valid_utf8(value->dump()) +
                                       " is less than 1M, in which no JVM starts; give the "
                                       "instance at least \"1M\" (a JVM needs hundreds of M)");
        bytes.reset();
    }
    return bytes;
}

// pids_max: tasks (processes and threads) the instance may have, or "max".
std::optional<std::uint64_t> read_pids_max(JsonFieldReader& limits) {
    constexpr long long kPidMax = 4194304;  // Linux's largest pid_max
    const auto* value = limits.child("pids_max");
    if (value == nullptr || (value->is_string() && value->get<std::string>() == "max")) {
        return std::nullopt;
    }
    const auto number = integer_within(*value, 1, kPidMax);
    if (!number) {
        limits.error("pids_max", to_valid_utf8(value->dump()) +
                                     " is not a task count; use an integer from 1 to 4194304 (a "
                                     "JVM's threads count too: give it thousands), or \"max\"");
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(*number);
}

void read_limits(JsonFieldReader& reader, Profile& profile) {
    const auto* limits = reader.child("limits");
    if (limits == nullptr) {
        return;
    }
    if (!limits->is_object()) {
        reader.error("limits",
                     "expected an object such as {\"memory_max\": \"4G\", \"pids_max\": 4096}, "
                     "found " +
                         json_type_name(*limits));
        return;
    }
    JsonFieldReader sub(*limits, reader.file(), reader.pointer_to("limits"), reader.diagnostics());
    profile.limits.memory_max = read_memory_max(sub);
    profile.limits.pids_max = read_pids_max(sub);
    sub.reject_unknown_keys({"memory_max", "pids_max"});
}

/// A path of the profile as an absolute one: relative to the profile's file, which is itself
/// relative to the working directory when --profiles is. Absolute, because the instance runs in
/// its home: a relative home, script or JAVA_HOME would not resolve from there.
std::filesystem::path from_profile(const Profile& profile, const std::filesystem::path& path) {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(profile.source.parent_path() / path, ec);
    return (ec ? profile.source.parent_path() / path : absolute).lexically_normal();
}

void resolve_home(JsonFieldReader& reader, Profile& profile, const std::string& home_text,
                  const std::string& script_text, Platform platform) {
    if (home_text.empty()) {
        return;
    }
    profile.home = from_profile(profile, home_text);
    std::error_code ec;
    if (!std::filesystem::is_directory(profile.home, ec)) {
        reader.error("home", profile.home.string() +
                                 " does not exist or is not a directory; point \"home\" at the "
                                 "unpacked pack (the folder that holds bin/)");
        return;
    }
    if (profile.table == nullptr) {
        return;
    }
    const auto& scripts = platform == Platform::Windows ? profile.table->windows_scripts
                                                        : profile.table->linux_scripts;
    if (!script_text.empty()) {
        const std::filesystem::path relative =
            std::filesystem::path(script_text).lexically_normal();
        if (relative.has_root_path() || relative.empty() || *relative.begin() == "..") {
            reader.error("script", "\"" + script_text +
                                       "\" is not inside the home; give the start script's path "
                                       "relative to the home, e.g. " +
                                       (scripts.empty() ? "bin/server.sh" : scripts.front()));
            return;
        }
        profile.script = profile.home / relative;
        if (!std::filesystem::is_regular_file(profile.script, ec)) {
            reader.error("script", profile.script.string() +
                                       " does not exist; name a start script "
                                       "inside the home, e.g. " +
                                       (scripts.empty() ? "bin/server.sh" : scripts.front()));
        }
        return;
    }
    for (const auto& candidate : scripts) {
        if (std::filesystem::is_regular_file(profile.home / candidate, ec)) {
            profile.script = profile.home / candidate;
            return;
        }
    }
    reader.error("home", profile.home.string() + " is not a home of " + profile.runtime +
                             ": none of " + join(scripts, ", ") +
                             " exists there; check the path or the \"runtime\"");
}

void apply_config_file_ports(JsonFieldReader& reader, Profile& profile) {
    const RuntimeTable& table = *profile.table;
    const bool reads_yaml = std::any_of(table.ports.begin(), table.ports.end(),
                                        [](const PortSpec& p) { return !p.yaml_path.empty(); });
    if (!reads_yaml || profile.home.empty()) {
        return;
    }
    const std::filesystem::path config = profile.home / table.config_file;
    std::error_code ec;
    if (!std::filesystem::exists(config, ec)) {
        return;  // the table's bases apply
    }
    if (const auto size = std::filesystem::file_size(config, ec); !ec && size > kMaxConfigBytes) {
        reader.diagnostics().push_back(
            {config, "",
             "is " + std::to_string(size) + " bytes, more than the " +
                 std::to_string(kMaxConfigBytes) +
                 " a config file may have; check that it is the right file"});
        return;
    }
    std::string error;
    const auto text = read_text_file(config, error);
    if (!text) {
        reader.diagnostics().push_back({config, "", error});
        return;
    }
    try {
        for (const auto& [key, base] : read_yaml_ports(*text, table, config)) {
            for (auto& port : profile.ports) {
                if (port.key == key) {
                    port.base = base;
                    port.origin = "config file";
                }
            }
        }
    } catch (const ConfigError& e) {
        reader.diagnostics().insert(reader.diagnostics().end(), e.diagnostics().begin(),
                                    e.diagnostics().end());
    }
}

void apply_port_overrides(JsonFieldReader& reader, Profile& profile) {
    const auto* overrides = reader.child("ports");
    if (overrides == nullptr) {
        return;
    }
    if (!overrides->is_object()) {
        reader.error("ports", "expected an object of port-key: {\"base\": N, ...}, found " +
                                  json_type_name(*overrides));
        return;
    }
    for (const auto& [key, value] : overrides->items()) {
        const std::string pointer = reader.pointer_to("ports") + "/" + key;
        if (!value.is_object()) {
            reader.diagnostics().push_back(
                {reader.file(), pointer,
                 "expected an object such as {\"base\": 9443}, found " + json_type_name(value)});
            continue;
        }
        JsonFieldReader sub(value, reader.file(), pointer, reader.diagnostics());
        const std::string& port_key = key;  // clang 14 cannot capture a structured binding
        auto it = std::find_if(profile.ports.begin(), profile.ports.end(),
                               [&](const InstancePort& p) { return p.key == port_key; });
        if (it == profile.ports.end()) {
            if (!sub.has("base")) {
                std::vector<std::string> keys;
                for (const auto& p : profile.ports) {
                    keys.push_back(p.key);
                }
                sub.error("", "no port \"" + key + "\" in the " + profile.runtime + " table" +
                                  did_you_mean(key, keys) +
                                  "; to add a new port give its \"base\"");
                continue;
            }
            InstancePort added;
            added.key = key;
            added.purpose = key;
            profile.ports.push_back(added);
            it = std::prev(profile.ports.end());
        }
        it->base = static_cast<int>(sub.integer("base", it->base, 1, 65535));
        it->purpose = sub.string("purpose", it->purpose);
        it->follows_offset = sub.boolean("follows_offset", it->follows_offset);
        if (sub.has("enabled")) {
            const bool enabled = sub.boolean("enabled", true);
            it->default_open = enabled;
            it->reserved = enabled;
        }
        it->origin = "profile";
        sub.reject_unknown_keys({"base", "purpose", "follows_offset", "enabled"});
    }
}

/// The pack's version from the file the table names (API-M: bin/version.txt), or nullopt when
/// the table names none or the home holds no readable one: then no version range applies.
std::optional<PackVersion> read_pack_version(const Profile& profile) {
    constexpr std::uintmax_t kMaxVersionFileBytes = 4096;
    const std::string& file = profile.table->health.version_file;
    if (file.empty() || profile.home.empty()) {
        return std::nullopt;
    }
    const std::filesystem::path path = profile.home / file;
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size > kMaxVersionFileBytes) {
        return std::nullopt;
    }
    std::string error;
    const auto text = read_text_file(path, error);
    return text ? parse_pack_version(*text) : std::nullopt;
}

/// The flavour a profile's "health" names, when the start script and -Dprofile do not say.
void read_health_flavour(JsonFieldReader& health, const Profile& profile, std::string& flavour) {
    if (!health.has("flavour")) {
        return;
    }
    const HealthTable& table = profile.table->health;
    const std::string name = health.string("flavour");
    const std::vector<std::string> names = table.flavour_names();
    if (table.find_flavour(name) != nullptr) {
        flavour = name;
    } else if (names.empty()) {
        health.error("flavour", profile.runtime + " has no flavours; remove the field");
    } else if (health.child("flavour")->is_string()) {
        health.error("flavour", "no flavour \"" + name + "\" of " + profile.runtime +
                                    did_you_mean(name, names) +
                                    "; use one of: " + join(names, ", "));
    }
}

/// "health": the runtime's probes for the instance's flavour and pack version, then the
/// profile's own changes to each probe.
void read_health(JsonFieldReader& reader, Profile& profile) {
    std::vector<std::string> port_keys;
    for (const auto& port : profile.ports) {
        port_keys.push_back(port.key);
    }
    std::string flavour = detect_flavour(profile.table->health, profile.script, profile.args);
    HealthPatch overrides;
    if (const auto* health = reader.child("health"); health != nullptr && health->is_object()) {
        JsonFieldReader sub(*health, reader.file(), reader.pointer_to("health"),
                            reader.diagnostics());
        read_health_flavour(sub, profile, flavour);
        overrides = parse_health_patch(sub, port_keys);
        sub.reject_unknown_keys({"flavour", "startup", "readiness", "liveness"});
    } else if (health != nullptr) {
        reader.error("health", "expected an object such as {\"readiness\": \"off\"}, found " +
                                   json_type_name(*health));
    }
    profile.health = resolve_health(profile.table->health, flavour, read_pack_version(profile));
    if (!overrides.empty()) {
        overrides.sources = "profile " + reader.file().filename().string();
        apply_health_patch(overrides, profile.health);
    }
    for (const auto& problem : check_health(profile.health, port_keys)) {
        reader.diagnostics().push_back({reader.file(),
                                        reader.pointer_to("health") + "/" + to_string(problem.role),
                                        problem.message});
    }
}

/// "role" and "connect": an API-M pack's role is its start script's unless the profile says.
void read_split_role(JsonFieldReader& reader, Profile& profile) {
    const SplitTable& split = profile.table->split;
    if (reader.has("role")) {
        const std::string text = reader.string("role");
        if (split.empty()) {
            reader.error("role", profile.runtime + " has no roles; remove the field");
        } else if (const auto role = parse_split_role(text)) {
            profile.role = role;
        } else if (reader.child("role")->is_string()) {
            reader.error("role", "\"" + text + "\" is not a role" +
                                     did_you_mean(text, split_role_names()) +
                                     "; use one of: " + join(split_role_names(), ", "));
        }
    } else if (!split.empty() && !profile.script.empty()) {
        profile.role = split.role_of_script(profile.script.stem().string());
    }
    if (!reader.has("connect")) {
        return;
    }
    profile.connect = parse_connect(reader);
    if (!profile.role || *profile.role == SplitRole::AllInOne) {
        reader.error("connect",
                     "only the packs of a split API-M deployment (control plane, gateway, "
                     "traffic manager, key manager) connect to peers, and this instance is " +
                         (profile.role ? describe_role(*profile.role)
                                       : "a " + profile.runtime + " instance") +
                         "; remove the field, or set \"role\"");
    }
}

void check_offset_range(JsonFieldReader& reader, const Profile& profile) {
    if (!profile.offset) {
        return;
    }
    for (const auto& port : profile.ports) {
        if (port.reserved && port.follows_offset && port.base + *profile.offset > 65535) {
            reader.error("offset", "offset " + std::to_string(*profile.offset) + " moves " +
                                       port.purpose + " (" + std::to_string(port.base) + ") to " +
                                       std::to_string(port.base + *profile.offset) +
                                       ", past 65535; the largest offset for this instance is " +
                                       std::to_string(profile.max_offset()));
            return;
        }
    }
}

}  // namespace

Profile parse_profile(const std::string& text, const std::filesystem::path& source,
                      const RuntimeCatalog& catalog, Platform platform,
                      std::vector<Diagnostic>& diagnostics) {
    Profile profile;
    profile.source = source;
    const std::size_t errors_before = diagnostics.size();
    const nlohmann::json root = parse_jsonc(text, source, diagnostics);
    if (diagnostics.size() != errors_before) {
        return profile;
    }
    if (!root.is_object()) {
        diagnostics.push_back({source, "/",
                               "expected a JSON object {\"name\": ..., \"runtime\": "
                               "..., \"home\": ...}, found " +
                                   json_type_name(root)});
        return profile;
    }
    JsonFieldReader reader(root, source, "", diagnostics);
    reader.reject_unknown_keys(kProfileKeys);
    profile.fingerprint = root.dump();

    profile.name =
        reader.required_string("name", "give the instance a unique name such as \"apim-1\"");
    if (reader.has("name") && reader.child("name")->is_string() && !valid_name(profile.name)) {
        reader.error("name", "\"" + profile.name +
                                 "\" is not a valid name; use 1-63 characters of a-z, 0-9 and '-', "
                                 "not starting with '-'");
    }
    profile.runtime =
        reader.required_string("runtime", "use one of: " + join(catalog.names(), ", "));
    if (!profile.runtime.empty()) {
        profile.table = catalog.find(profile.runtime);
        if (profile.table == nullptr) {
            reader.error("runtime", "unknown runtime \"" + profile.runtime + "\"" +
                                        did_you_mean(profile.runtime, catalog.names()) +
                                        "; use one of: " + join(catalog.names(), ", "));
        }
    }
    const std::string home_text =
        reader.required_string("home", "give the path of the unpacked pack (the folder with bin/)");
    const std::string script_text = reader.string("script");
    read_offset(reader, profile);
    read_offset_method(reader, profile, profile.table);
    read_args(reader, profile, platform);
    profile.java_home = reader.string("java_home");
    std::error_code ec;
    if (!check_no_control_characters(reader, reader.pointer_to("java_home"), profile.java_home,
                                     "the path")) {
        profile.java_home.clear();
    } else if (!profile.java_home.empty()) {
        profile.java_home = from_profile(profile, profile.java_home).string();
        if (!std::filesystem::is_directory(profile.java_home, ec)) {
            reader.error("java_home",
                         profile.java_home +
                             " is not a directory; point it at a JDK (the folder with bin/java)");
        }
    }
    read_env(reader, profile);
    profile.after = reader.string_list("after");
    profile.after_given = reader.has("after");
    read_restart(reader, profile);
    read_ready(reader, profile);
    profile.stop_timeout_s =
        static_cast<int>(reader.integer("stop_timeout_s", profile.stop_timeout_s, 1, 3600));
    profile.user = reader.string("user");
    read_log(reader, profile);
    read_limits(reader, profile);
    profile.autostart = reader.boolean("autostart", profile.autostart);
    profile.update_advertised_urls = reader.boolean("update_advertised_urls", false);
    if (profile.update_advertised_urls && profile.table != nullptr &&
        profile.table->advertised_urls.empty()) {
        reader.error("update_advertised_urls", profile.runtime +
                                                   " has no advertised URLs to "
                                                   "update; remove the field");
    }
    profile.host = reader.string("host", profile.host);
    check_no_control_characters(reader, reader.pointer_to("user"), profile.user, "the user name");
    check_no_control_characters(reader, reader.pointer_to("host"), profile.host, "the host name");
    const bool home_ok =
        check_no_control_characters(reader, reader.pointer_to("home"), home_text, "the path");
    if (home_ok &&
        check_no_control_characters(reader, reader.pointer_to("script"), script_text, "the path")) {
        resolve_home(reader, profile, home_text, script_text, platform);
    }
    if (profile.table != nullptr) {
        profile.ports = table_ports(*profile.table);
        apply_config_file_ports(reader, profile);
        apply_port_overrides(reader, profile);
        check_offset_range(reader, profile);
        read_health(reader, profile);
        read_split_role(reader, profile);
    }
    return profile;
}

namespace {

void check_after_graph(const std::vector<Profile>& profiles, std::vector<Diagnostic>& diagnostics) {
    std::map<std::string, const Profile*> by_name;
    std::set<std::filesystem::path> named_files;
    for (const auto& p : profiles) {
        by_name[p.name] = &p;
        if (!p.name.empty()) {
            named_files.insert(p.source);
        }
    }
    // A file that could not be read (bad JSON, no name) may hold the instance an `after` names.
    const bool some_unread =
        std::any_of(diagnostics.begin(), diagnostics.end(),
                    [&](const Diagnostic& d) { return !named_files.count(d.file); });
    // The names to suggest for a misspelt `after`, never the instance itself: made only for an
    // error (5000 profiles would otherwise copy 5000 names each).
    const auto others = [&by_name](const std::string& self) {
        std::vector<std::string> names;
        for (const auto& [name, profile] : by_name) {
            if (name != self && !name.empty()) {
                names.push_back(name);
            }
        }
        return names;
    };
    for (const auto& p : profiles) {
        for (std::size_t i = 0; i < p.after.size(); ++i) {
            const std::string pointer = "/after/" + std::to_string(i);
            if (p.after[i] == p.name) {
                diagnostics.push_back({p.source, pointer,
                                       "an instance cannot start after itself; "
                                       "remove \"" +
                                           p.name + "\""});
            } else if (!by_name.count(p.after[i])) {
                diagnostics.push_back(
                    {p.source, pointer,
                     "no instance named \"" + p.after[i] + "\"" +
                         did_you_mean(p.after[i], others(p.name)) +
                         (some_unread ? " (if its profile is one with errors above, fix those "
                                        "first)"
                                      : "")});
            }
        }
    }
    // Depth-first search for a cycle; report each cycle once, at its first member by name.
    std::map<std::string, int> mark;  // 0 new, 1 on the stack, 2 done
    std::vector<std::string> stack;
    std::function<void(const Profile&)> visit = [&](const Profile& p) {
        mark[p.name] = 1;
        stack.push_back(p.name);
        for (const auto& dependency : p.after) {
            const auto it = by_name.find(dependency);
            if (it == by_name.end() || dependency == p.name) {
                continue;
            }
            if (mark[dependency] == 1) {
                const auto start = std::find(stack.begin(), stack.end(), dependency);
                std::vector<std::string> cycle(start, stack.end());
                cycle.push_back(dependency);
                diagnostics.push_back({p.source, "/after",
                                       "\"after\" forms a cycle: " + join(cycle, " -> ") +
                                           "; remove one of these dependencies"});
            } else if (mark[dependency] == 0) {
                visit(*it->second);
            }
        }
        stack.pop_back();
        mark[p.name] = 2;
    };
    for (const auto& p : profiles) {
        if (mark[p.name] == 0) {
            visit(p);
        }
    }
}

}  // namespace

void check_profile_set(std::vector<Profile>& profiles, std::vector<Diagnostic>& diagnostics) {
    std::map<std::string, const Profile*> names;
    std::map<std::filesystem::path, const Profile*> homes;
    for (const auto& p : profiles) {
        if (!p.name.empty()) {
            const auto [it, inserted] = names.emplace(p.name, &p);
            if (!inserted) {
                diagnostics.push_back({p.source, "/name",
                                       "instance name \"" + p.name + "\" is also used by " +
                                           it->second->source.string() + "; names must be unique"});
            }
        }
        if (!p.home.empty()) {
            std::error_code ec;
            auto key = std::filesystem::weakly_canonical(p.home, ec);
            if (ec) {
                key = p.home;
            }
            const auto [it, inserted] = homes.emplace(key, &p);
            if (!inserted) {
                diagnostics.push_back(
                    {p.source, "/home",
                     "same home as " + it->second->name + " (" + it->second->source.string() +
                         "); two instances must never share a home (pid file, tmp wipe, "
                         "embedded databases, logs): unpack a separate copy of the pack"});
            }
        }
    }
    resolve_split_topology(profiles, diagnostics);  // before the graph: it adds default `after`
    check_after_graph(profiles, diagnostics);
}

std::vector<Profile> load_profiles(const std::filesystem::path& dir, const RuntimeCatalog& catalog,
                                   Platform platform) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        throw ConfigError(dir, "",
                          "profile directory not found; create it with one JSON file per "
                          "instance, or pass --profiles DIR");
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        throw ConfigError(dir, "",
                          "no profiles (*.json) in this directory; add one file per "
                          "instance (see profiles/examples)");
    }
    std::vector<Diagnostic> diagnostics;
    std::vector<Profile> profiles;
    // The daemon keeps this vector while it runs: one Profile (about 1.2 KiB) per file, not
    // push_back's next power of two (64 for 50 profiles).
    profiles.reserve(files.size());
    for (const auto& file : files) {
        std::string error;
        const auto text = read_text_file(file, error);
        if (!text) {
            diagnostics.push_back({file, "", error});
            continue;
        }
        profiles.push_back(parse_profile(*text, file, catalog, platform, diagnostics));
    }
    check_profile_set(profiles, diagnostics);
    if (!diagnostics.empty()) {
        throw ConfigError(diagnostics);
    }
    std::sort(profiles.begin(), profiles.end(),
              [](const Profile& a, const Profile& b) { return a.name < b.name; });
    return profiles;
}

}  // namespace carbon
