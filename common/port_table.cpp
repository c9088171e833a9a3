#include "port_table.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "diagnostics.hpp"
#include "json_reader.hpp"

namespace carbon {

const PortSpec* RuntimeTable::find_port(const std::string& key) const {
    for (const auto& port : ports) {
        if (port.key == key) {
            return &port;
        }
    }
    return nullptr;
}

bool RuntimeTable::supports_method(OffsetMethod method) const {
    return std::find(offset_methods.begin(), offset_methods.end(), method) != offset_methods.end();
}

bool RuntimeTable::masks_exit_status(const std::filesystem::path& script) const {
    // The fact is about the pack's own scripts; a script of the operator's ("script" in the
    // profile) is taken at its word.
    const std::string name = script.filename().string();
    const auto is_named = [&name](const std::vector<std::string>& scripts) {
        return std::any_of(scripts.begin(), scripts.end(), [&name](const std::string& known) {
            return std::filesystem::path(known).filename().string() == name;
        });
    };
    if (is_named(linux_scripts)) {
        return linux_exit_status == ScriptExitStatus::Masked;
    }
    if (is_named(windows_scripts)) {
        return windows_exit_status == ScriptExitStatus::Masked;
    }
    return false;
}

std::string to_string(OffsetMethod method) {
    return method == OffsetMethod::Config ? "config" : "argument";
}

std::optional<OffsetMethod> parse_offset_method(const std::string& text) {
    if (text == "argument") {
        return OffsetMethod::Argument;
    }
    if (text == "config") {
        return OffsetMethod::Config;
    }
    return std::nullopt;
}

std::string to_string(RuntimeFamily family) {
    return family == RuntimeFamily::Carbon5 ? "carbon5" : "carbon4";
}

namespace {

std::vector<OffsetMethod> parse_offset_methods(JsonFieldReader& reader) {
    std::vector<OffsetMethod> methods;
    for (const std::string& text : reader.string_list("offset_methods")) {
        if (const auto method = parse_offset_method(text)) {
            methods.push_back(*method);
        } else {
            reader.error("offset_methods", "\"" + text +
                                               "\" is not a method; list \"argument\" "
                                               "(-DportOffset) and/or \"config\"");
        }
    }
    return methods;
}

RuntimeFamily parse_family(JsonFieldReader& reader) {
    const std::string family = reader.string("family", "carbon4");
    if (family != "carbon4" && family != "carbon5") {
        reader.error("family", "expected \"carbon4\" (API-M) or \"carbon5\" (SI, SI Tooling)");
    }
    return family == "carbon5" ? RuntimeFamily::Carbon5 : RuntimeFamily::Carbon4;
}

ScriptExitStatus parse_exit_status(JsonFieldReader& reader, const std::string& platform) {
    const std::string value = reader.string(platform, "jvm");
    if (value != "masked" && value != "jvm") {
        reader.error(platform,
                     "expected \"masked\" (the script exits 0 whatever the JVM did) or \"jvm\" "
                     "(it ends on the JVM's exit code)");
    }
    return value == "masked" ? ScriptExitStatus::Masked : ScriptExitStatus::Jvm;
}

// Carbon 5 reads CARBON_HOME/conf/<basename of RUNTIME_HOME>/deployment.yaml: a table whose
// config file disagrees with its runtime home would patch a file the runtime never reads.
void check_carbon5_layout(const RuntimeTable& table, JsonFieldReader& reader) {
    if (table.family != RuntimeFamily::Carbon5) {
        return;
    }
    if (table.runtime_home.empty()) {
        reader.error("runtime_home",
                     "a carbon5 runtime needs the RUNTIME_HOME its scripts default to, e.g. "
                     "\"wso2/server\"");
        return;
    }
    const std::string runtime_name =
        std::filesystem::path(table.runtime_home).lexically_normal().filename().string();
    const std::string expected = "conf/" + runtime_name + "/deployment.yaml";
    if (table.config_file != expected) {
        reader.error("config_file", "Carbon 5 reads " + expected + " for the runtime name \"" +
                                        runtime_name +
                                        "\" (from runtime_home); fix one of the two");
    }
}

}  // namespace

static PortSpec parse_port(const nlohmann::json& item, const std::filesystem::path& source,
                           const std::string& pointer, std::vector<Diagnostic>& diagnostics) {
    JsonFieldReader reader(item, source, pointer, diagnostics);
    PortSpec port;
    port.key = reader.required_string("key", "name the port, e.g. \"https-servlet\"");
    port.base = static_cast<int>(reader.integer("base", 0, 1, 65535));
    if (!reader.has("base")) {
        reader.error("base", "required field is missing; give the port number at offset 0");
    }
    port.purpose = reader.string("purpose");
    port.follows_offset = reader.boolean("follows_offset", true);
    port.default_open = reader.boolean("default_open", true);
    port.ready_probe = reader.boolean("ready_probe", false);
    port.yaml_path = reader.string("yaml_path");
    port.config_key = reader.string("config_key");
    reader.reject_unknown_keys({"key", "base", "purpose", "follows_offset", "default_open",
                                "ready_probe", "yaml_path", "config_key"});
    return port;
}

/// "roles" and "wiring" (API-M's split packs), checked against the table's ports.
static SplitTable parse_split_section(JsonFieldReader& reader, const RuntimeTable& table) {
    const auto* roles = reader.child("roles");
    if (roles == nullptr) {
        if (reader.has("wiring")) {
            reader.error("wiring", "wiring needs \"roles\": the role of each start script");
        }
        return {};
    }
    std::vector<std::string> port_keys;
    for (const auto& port : table.ports) {
        port_keys.push_back(port.key);
    }
    JsonFieldReader roles_reader(*roles, reader.file(), "/roles", reader.diagnostics());
    const auto* wiring = reader.child("wiring");
    if (wiring == nullptr) {
        return parse_split_table(roles_reader, nullptr, port_keys);
    }
    JsonFieldReader wiring_reader(*wiring, reader.file(), "/wiring", reader.diagnostics());
    return parse_split_table(roles_reader, &wiring_reader, port_keys);
}

RuntimeTable parse_runtime_table(const std::string& json_text,
                                 const std::filesystem::path& source) {
    std::vector<Diagnostic> diagnostics;
    const nlohmann::json root = parse_jsonc(json_text, source, diagnostics);
    RuntimeTable table;
    if (!diagnostics.empty()) {
        throw ConfigError(diagnostics);
    }
    JsonFieldReader reader(root, source, "", diagnostics);
    table.runtime = reader.required_string("runtime", "name the runtime, e.g. \"api-manager\"");
    table.display_name = reader.string("display_name", table.runtime);
    table.shipped_offset = static_cast<int>(reader.integer("shipped_offset", 0, 0, 65535));
    table.offset_methods = parse_offset_methods(reader);
    table.config_file = reader.string("config_file");
    table.pid_file = reader.string("pid_file");
    table.startup_line = reader.string("startup_line");
    table.family = parse_family(reader);
    table.runtime_home = reader.string("runtime_home");
    if (const auto* exit_status = reader.child("script_exit_status")) {
        JsonFieldReader status_reader(*exit_status, source, "/script_exit_status", diagnostics);
        table.linux_exit_status = parse_exit_status(status_reader, "linux");
        table.windows_exit_status = parse_exit_status(status_reader, "windows");
        status_reader.reject_unknown_keys({"linux", "windows", "sources"});
    }
    check_carbon5_layout(table, reader);
    if (const auto* scripts = reader.child("scripts")) {
        JsonFieldReader script_reader(*scripts, source, "/scripts", diagnostics);
        table.linux_scripts = script_reader.string_list("linux");
        table.windows_scripts = script_reader.string_list("windows");
    }
    if (const auto* ports = reader.child("ports"); ports != nullptr && ports->is_array()) {
        for (std::size_t i = 0; i < ports->size(); ++i) {
            table.ports.push_back(
                parse_port((*ports)[i], source, "/ports/" + std::to_string(i), diagnostics));
        }
    } else {
        reader.error("ports", "expected an array of ports");
    }
    if (const auto* urls = reader.child("urls"); urls != nullptr && urls->is_array()) {
        for (std::size_t i = 0; i < urls->size(); ++i) {
            JsonFieldReader url_reader((*urls)[i], source, "/urls/" + std::to_string(i),
                                       diagnostics);
            table.urls.push_back({url_reader.string("name"), url_reader.string("scheme", "https"),
                                  url_reader.string("port"), url_reader.string("path", "/")});
        }
    }
    if (const auto* advertised = reader.child("advertised_urls");
        advertised != nullptr && advertised->is_array()) {
        for (std::size_t i = 0; i < advertised->size(); ++i) {
            JsonFieldReader url_reader((*advertised)[i], source,
                                       "/advertised_urls/" + std::to_string(i), diagnostics);
            table.advertised_urls.push_back(
                {url_reader.string("toml_key"), url_reader.string("port")});
        }
    }
    if (const auto* probes = reader.child("probes")) {
        if (probes->is_object()) {
            JsonFieldReader probes_reader(*probes, source, "/probes", diagnostics);
            std::vector<std::string> port_keys;
            for (const auto& port : table.ports) {
                port_keys.push_back(port.key);
            }
            table.health = parse_health_table(probes_reader, port_keys);
        } else {
            reader.error("probes",
                         "expected an object with \"startup\", \"readiness\", "
                         "\"liveness\", \"flavours\" and \"versions\", found " +
                             json_type_name(*probes));
        }
    }
    if (const auto* host = reader.child("host")) {
        if (host->is_object()) {
            JsonFieldReader host_reader(*host, source, "/host", diagnostics);
            table.host = parse_host_requirements(host_reader);
        } else {
            reader.error("host",
                         "expected an object with \"jdk\", \"jdk_traps\", \"memory\" "
                         "and \"needs\", found " +
                             json_type_name(*host));
        }
    }
    table.split = parse_split_section(reader, table);
    reader.reject_unknown_keys(
        {"runtime", "display_name", "shipped_offset", "offset_methods", "scripts", "config_file",
         "pid_file", "startup_line", "ports", "urls", "advertised_urls", "family", "runtime_home",
         "script_exit_status", "sources", "probes", "host", "roles", "wiring"});
    for (std::size_t i = 0; i < table.urls.size(); ++i) {
        if (table.find_port(table.urls[i].port_key) == nullptr) {
            diagnostics.push_back({source, "/urls/" + std::to_string(i) + "/port",
                                   "no port \"" + table.urls[i].port_key + "\" in this table"});
        }
    }
    if (!diagnostics.empty()) {
        throw ConfigError(diagnostics);
    }
    return table;
}

void RuntimeCatalog::add(RuntimeTable table) {
    const std::string name = table.runtime;
    tables_[name] = std::move(table);
}

const RuntimeTable* RuntimeCatalog::find(const std::string& runtime) const {
    const auto it = tables_.find(runtime);
    return it == tables_.end() ? nullptr : &it->second;
}

std::vector<std::string> RuntimeCatalog::names() const {
    std::vector<std::string> names;
    for (const auto& [name, table] : tables_) {
        names.push_back(name);
    }
    return names;
}

RuntimeCatalog RuntimeCatalog::load(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        throw ConfigError(dir, "",
                          "port table directory not found; pass --runtimes DIR pointing at the "
                          "folder that holds api-manager.json and its siblings");
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".json") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    RuntimeCatalog catalog;
    std::vector<Diagnostic> diagnostics;
    for (const auto& file : files) {
        std::ifstream in(file, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        try {
            catalog.add(parse_runtime_table(text.str(), file));
        } catch (const ConfigError& e) {
            diagnostics.insert(diagnostics.end(), e.diagnostics().begin(), e.diagnostics().end());
        }
    }
    if (!diagnostics.empty()) {
        throw ConfigError(diagnostics);
    }
    if (catalog.tables_.empty()) {
        throw ConfigError(dir, "", "no port tables (*.json) in this directory");
    }
    return catalog;
}

}  // namespace carbon
