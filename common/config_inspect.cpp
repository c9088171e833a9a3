#include "config_inspect.hpp"

#include "toml_parser.hpp"

#include <functional>

#include "config_patch.hpp"
#include "diagnostics.hpp"
#include "text_file.hpp"
#include "yaml_ports.hpp"

namespace carbon {
namespace {

toml::table parse_toml(const std::string& text, const std::filesystem::path& source) {
    try {
        return toml::parse(text, source.string());
    } catch (const toml::parse_error& e) {
        throw ConfigError(source, "",
                          "TOML syntax error at line " + std::to_string(e.source().begin.line) +
                              ", column " + std::to_string(e.source().begin.column) + ": " +
                              std::string(e.description()) + "; fix the file");
    }
}

void visit_strings(const toml::node& node,
                   const std::function<void(const std::string&, const std::string&)>& on_string,
                   const std::string& key = "") {
    if (const auto* table = node.as_table()) {
        for (const auto& [k, v] : *table) {
            visit_strings(v, on_string, std::string(k.str()));
        }
    } else if (const auto* array = node.as_array()) {
        for (const auto& element : *array) {
            visit_strings(element, on_string, key);
        }
    } else if (const auto* text = node.as_string()) {
        on_string(key, text->get());
    }
}

void review_yaml_offset(const Profile& profile, int offset, ConfigReview& review) {
    const auto file = profile.home / profile.table->config_file;
    ConfigEdit edit{file, "wso2.carbon.ports.offset", std::nullopt, std::to_string(offset)};
    std::string error;
    if (const auto text = read_text_file(file, error)) {
        edit.current = read_yaml_scalar(*text, "wso2.carbon/ports/offset", file);
    } else {
        review.warnings.push_back(file.string() + ": " + error +
                                  "; the runtime cannot start without it");
    }
    review.edits.push_back(edit);
}

void review_toml(const Profile& profile, int offset, ConfigReview& review) {
    const auto file = profile.home / profile.table->config_file;
    std::string error;
    const auto text = read_text_file(file, error);
    if (!text) {
        if (profile.offset_method == OffsetMethod::Config) {
            review.warnings.push_back(file.string() + ": " + error);
        }
        return;
    }
    const auto current = read_toml_server_offset(*text, file);
    const auto current_text =
        current ? std::optional<std::string>(std::to_string(*current)) : std::nullopt;
    if (profile.offset_method == OffsetMethod::Config) {
        review.edits.push_back({file, "[server] offset", current_text, std::to_string(offset)});
    } else if (current && *current != offset) {
        review.warnings.push_back(file.string() + ": [server] offset = " + *current_text +
                                  " is ignored: the -DportOffset=" + std::to_string(offset) +
                                  " argument wins");
    }
    // A split control plane's gateway URLs name its gateway's ports: the wiring sets them.
    if (!profile.update_advertised_urls && profile.peers.gateways.empty()) {
        const auto stale = stale_advertised_urls(*text, offset, *profile.table, file);
        if (!stale.empty()) {
            std::string list;
            for (const auto& entry : stale) {
                list += (list.empty() ? "" : ", ") + entry;
            }
            review.warnings.push_back(file.string() +
                                      ": URLs written in the file do not follow "
                                      "the offset, so clients are sent to the wrong ports (" +
                                      list +
                                      "); set \"update_advertised_urls\": true or edit the file");
        }
    }
}

}  // namespace

std::optional<long long> read_toml_server_offset(const std::string& toml_text,
                                                 const std::filesystem::path& source) {
    const toml::table root = parse_toml(toml_text, source);
    if (const auto value = root["server"]["offset"].value<long long>()) {
        return *value;
    }
    return std::nullopt;
}

std::vector<std::string> stale_advertised_urls(const std::string& toml_text, int offset,
                                               const RuntimeTable& table,
                                               const std::filesystem::path& source) {
    const toml::table root = parse_toml(toml_text, source);
    std::vector<std::string> stale;
    visit_strings(root, [&](const std::string& key, const std::string& value) {
        for (const auto& advertised : table.advertised_urls) {
            const PortSpec* port = table.find_port(advertised.port_key);
            if (key == advertised.toml_key && port != nullptr &&
                moved_url(value, port->base, offset) != value) {
                stale.push_back(key + " = \"" + value + "\"");
            }
        }
    });
    return stale;
}

ConfigReview review_config(const Profile& profile, int offset) {
    ConfigReview review;
    if (profile.table == nullptr || profile.table->config_file.empty()) {
        return review;
    }
    try {
        if (profile.table->family == RuntimeFamily::Carbon5) {
            review_yaml_offset(profile, offset, review);
        } else {
            review_toml(profile, offset, review);
        }
    } catch (const ConfigError& e) {
        review.warnings.push_back(e.what());
    }
    return review;
}

}  // namespace carbon
