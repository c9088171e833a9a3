#include "yaml_ports.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <vector>

#include "diagnostics.hpp"

namespace carbon {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::string current;
    for (const char c : text) {
        if (c == separator) {
            parts.push_back(current);
            current.clear();
        } else {
            current += c;
        }
    }
    parts.push_back(current);
    return parts;
}

// yaml-cpp's Node::operator= writes through to the referenced node; walking a tree therefore
// rebinds with reset(), and lookups go through const nodes so they never insert keys.
YAML::Node follow(const YAML::Node& start, const std::vector<std::string>& keys) {
    YAML::Node node;
    node.reset(start);
    for (const auto& key : keys) {
        const YAML::Node& current = node;
        if (!current.IsMap() || !current[key]) {
            return YAML::Node(YAML::NodeType::Undefined);
        }
        node.reset(current[key]);
    }
    return node;
}

/// `[k1:k2=value]`: the element of a sequence whose nested k1.k2 scalar equals value.
YAML::Node select_element(const YAML::Node& sequence, const std::string& selector) {
    const auto equals = selector.find('=');
    const std::vector<std::string> keys = split(selector.substr(1, equals - 1), ':');
    const std::string wanted = selector.substr(equals + 1, selector.size() - equals - 2);
    for (const auto& element : sequence) {
        const YAML::Node value = follow(element, keys);
        if (value.IsDefined() && value.IsScalar() && value.Scalar() == wanted) {
            return element;
        }
    }
    return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node parse_yaml(const std::string& text, const std::filesystem::path& source) {
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(source, "",
                          "YAML syntax error at line " + std::to_string(e.mark.line + 1) +
                              ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg +
                              "; fix the file or restore it from the pack");
    }
}

std::optional<std::string> scalar_at(const YAML::Node& root, const std::string& path) {
    YAML::Node node;
    node.reset(root);
    for (const auto& segment : split(path, '/')) {
        if (!node.IsDefined() || node.IsNull()) {
            return std::nullopt;
        }
        if (!segment.empty() && segment.front() == '[') {
            if (!node.IsSequence()) {
                return std::nullopt;
            }
            node.reset(select_element(node, segment));
        } else {
            node.reset(follow(node, {segment}));
        }
    }
    if (!node.IsDefined() || !node.IsScalar()) {
        return std::nullopt;
    }
    return node.Scalar();
}

}  // namespace

std::optional<std::string> read_yaml_scalar(const std::string& yaml_text, const std::string& path,
                                            const std::filesystem::path& source) {
    return scalar_at(parse_yaml(yaml_text, source), path);
}

std::map<std::string, int> read_yaml_ports(const std::string& yaml_text, const RuntimeTable& table,
                                           const std::filesystem::path& source) {
    const YAML::Node root = parse_yaml(yaml_text, source);
    std::map<std::string, int> bases;
    std::vector<Diagnostic> diagnostics;
    for (const auto& port : table.ports) {
        if (port.yaml_path.empty()) {
            continue;
        }
        const auto text = scalar_at(root, port.yaml_path);
        if (!text) {
            continue;  // absent in this file: the runtime uses its built-in default
        }
        int value = 0;
        const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
        if (ec != std::errc() || end != text->data() + text->size() || value < 1 || value > 65535) {
            diagnostics.push_back({source, port.yaml_path,
                                   "\"" + *text + "\" is not a port number (1-65535); set the " +
                                       port.purpose + " port to a number"});
            continue;
        }
        bases[port.key] = value;
    }
    if (!diagnostics.empty()) {
        throw ConfigError(diagnostics);
    }
    return bases;
}

}  // namespace carbon
