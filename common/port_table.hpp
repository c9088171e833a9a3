#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "health_spec.hpp"
#include "host_requirements.hpp"
#include "split_topology.hpp"

namespace carbon {

/// One port of a runtime, as documented for the shipped pack.
struct PortSpec {
    std::string key;      // stable identifier, e.g. "https-servlet"
    int base = 0;         // the port at offset 0
    std::string purpose;  // what an operator knows it as
    bool follows_offset = true;
    bool default_open = true;  // opened by a default pack (optional ones are off)
    bool ready_probe = false;  // the port whose accepting connections means "ready"
    std::string yaml_path;     // where an SI-family config file overrides the base
    std::string config_key;    // for a fixed port: the setting an operator changes to move it
};

/// A link an operator opens once the instance runs.
struct UrlSpec {
    std::string name;
    std::string scheme;
    std::string port_key;
    std::string path;
};

/// A URL written literally into the config file that the offset does not move.
struct AdvertisedUrlSpec {
    std::string toml_key;
    std::string port_key;
};

/// How a runtime reads its configuration: Carbon 4 (API-M: deployment.toml, -DportOffset) or
/// Carbon 5 (SI, SI Tooling: conf/<runtime name>/deployment.yaml, the runtime name being the
/// folder name of RUNTIME_HOME).
enum class RuntimeFamily { Carbon4, Carbon5 };

/// How an instance is told its offset: -DportOffset on the script's command line (API-M), or
/// the runtime's own config file (API-M's deployment.toml; the only way for SI and Tooling).
enum class OffsetMethod { Argument, Config };

/// "argument" or "config": the profiles' and tables' spelling.
std::string to_string(OffsetMethod method);
/// The method spelled `text`, or nullopt.
std::optional<OffsetMethod> parse_offset_method(const std::string& text);

/// What a start script's exit status says about the JVM it ran.
enum class ScriptExitStatus {
    Masked,  // the script exits 0 whatever the JVM did (WSO2's .sh: the 121 loop, then nothing)
    Jvm,     // the script ends on the JVM's own exit code
};

/// Everything carbon-launcher knows about one runtime, loaded from profiles/runtimes/NAME.json.
struct RuntimeTable {
    std::string runtime;
    std::string display_name;
    int shipped_offset = 0;
    std::vector<OffsetMethod> offset_methods;
    std::vector<std::string> linux_scripts;  // first one that exists in the home is used
    std::vector<std::string> windows_scripts;
    std::string config_file;  // relative to the home
    std::string pid_file;     // relative to the home
    std::string startup_line;
    RuntimeFamily family = RuntimeFamily::Carbon4;
    /// Carbon 5 only: the RUNTIME_HOME the start scripts default to, relative to the home
    /// ("wso2/server"). The launcher never sets RUNTIME_HOME itself (DOMAIN.md §3).
    std::string runtime_home;
    ScriptExitStatus linux_exit_status = ScriptExitStatus::Jvm;
    ScriptExitStatus windows_exit_status = ScriptExitStatus::Jvm;
    std::vector<PortSpec> ports;
    std::vector<UrlSpec> urls;
    std::vector<AdvertisedUrlSpec> advertised_urls;
    /// The probes per flavour and version range ("probes"); empty: none (the startup line and
    /// the ready_probe port decide readiness, as before).
    HealthTable health;
    /// What `check` holds a host to ("host"): JDK ranges, memory, limits.
    HostRequirements host;
    /// API-M's split packs: the role of each start script and what each role wires ("roles",
    /// "wiring"); empty for runtimes without roles.
    SplitTable split;

    const PortSpec* find_port(const std::string& key) const;
    bool supports_method(OffsetMethod method) const;
    /// True when `script`, one of this pack's own start scripts, exits 0 whatever its JVM did,
    /// so that an exit nobody asked for must count as a failure. Other scripts: false.
    bool masks_exit_status(const std::filesystem::path& script) const;
};

std::string to_string(RuntimeFamily family);

/// Parses one port table; throws ConfigError naming `source` and the field.
RuntimeTable parse_runtime_table(const std::string& json_text, const std::filesystem::path& source);

/// All runtime tables, keyed by runtime name.
class RuntimeCatalog {
  public:
    /// Loads every *.json in `dir`; throws ConfigError on a missing dir or a bad table.
    static RuntimeCatalog load(const std::filesystem::path& dir);

    void add(RuntimeTable table);
    const RuntimeTable* find(const std::string& runtime) const;
    std::vector<std::string> names() const;
    const std::map<std::string, RuntimeTable>& tables() const { return tables_; }

  private:
    std::map<std::string, RuntimeTable> tables_;
};

}  // namespace carbon
