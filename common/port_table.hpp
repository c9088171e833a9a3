#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

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

/// Everything carbon-launcher knows about one runtime, loaded from profiles/runtimes/NAME.json.
struct RuntimeTable {
    std::string runtime;
    std::string display_name;
    int shipped_offset = 0;
    std::vector<std::string> offset_methods;  // "argument" and/or "config"
    std::vector<std::string> linux_scripts;   // first one that exists in the home is used
    std::vector<std::string> windows_scripts;
    std::string config_file;  // relative to the home
    std::string pid_file;     // relative to the home
    std::string startup_line;
    std::vector<PortSpec> ports;
    std::vector<UrlSpec> urls;
    std::vector<AdvertisedUrlSpec> advertised_urls;

    const PortSpec* find_port(const std::string& key) const;
    bool supports_method(const std::string& method) const;
};

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
