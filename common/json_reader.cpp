#include "json_reader.hpp"

namespace carbon {

nlohmann::json parse_jsonc(const std::string& text, const std::filesystem::path& source,
                           std::vector<Diagnostic>& diagnostics) {
    try {
        return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/true,
                                     /*ignore_comments=*/true);
    } catch (const nlohmann::json::parse_error& e) {
        const auto [line, column] = line_and_column(text, e.byte == 0 ? 0 : e.byte - 1);
        std::string reason = e.what();
        // nlohmann's text starts with "[json.exception.parse_error.101] parse error at line...";
        // keep only the part after the last ": " which says what was unexpected.
        if (const auto cut = reason.rfind(": "); cut != std::string::npos) {
            reason = reason.substr(cut + 2);
        }
        diagnostics.push_back({source, "",
                               "JSON syntax error at line " + std::to_string(line) + ", column " +
                                   std::to_string(column) + ": " + reason +
                                   "; fix the syntax (comments // and /* */ are allowed)"});
        return nullptr;
    }
}

std::string json_type_name(const nlohmann::json& value) {
    if (value.is_number_integer()) {
        return "an integer";
    }
    if (value.is_number()) {
        return "a number";
    }
    if (value.is_string()) {
        return "a string";
    }
    if (value.is_boolean()) {
        return "a boolean";
    }
    if (value.is_array()) {
        return "an array";
    }
    if (value.is_object()) {
        return "an object";
    }
    return "null";
}

static std::string escape_pointer_token(const std::string& token) {
    std::string escaped;
    for (const char c : token) {
        if (c == '~') {
            escaped += "~0";
        } else if (c == '/') {
            escaped += "~1";
        } else {
            escaped += c;
        }
    }
    return escaped;
}

JsonFieldReader::JsonFieldReader(const nlohmann::json& object, std::filesystem::path file,
                                 std::string pointer, std::vector<Diagnostic>& diagnostics)
    : object_(object),
      file_(std::move(file)),
      pointer_(std::move(pointer)),
      diagnostics_(diagnostics) {}

std::string JsonFieldReader::pointer_to(const std::string& key) const {
    return pointer_ + "/" + escape_pointer_token(key);
}

void JsonFieldReader::error(const std::string& key, const std::string& message) {
    diagnostics_.push_back(
        {file_, key.empty() ? (pointer_.empty() ? "/" : pointer_) : pointer_to(key), message});
}

bool JsonFieldReader::has(const std::string& key) const {
    return object_.is_object() && object_.contains(key);
}

const nlohmann::json* JsonFieldReader::child(const std::string& key) const {
    if (!has(key)) {
        return nullptr;
    }
    return &object_.at(key);
}

std::string JsonFieldReader::string(const std::string& key, const std::string& fallback) {
    const auto* value = child(key);
    if (value == nullptr) {
        return fallback;
    }
    if (!value->is_string()) {
        error(key, "expected a string, found " + json_type_name(*value));
        return fallback;
    }
    return value->get<std::string>();
}

std::string JsonFieldReader::required_string(const std::string& key, const std::string& hint) {
    if (!has(key)) {
        error(key, "required field is missing; " + hint);
        return "";
    }
    return string(key);
}

long long JsonFieldReader::integer(const std::string& key, long long fallback, long long min,
                                   long long max) {
    const auto* value = child(key);
    if (value == nullptr) {
        return fallback;
    }
    if (!value->is_number_integer()) {
        error(key, "expected an integer from " + std::to_string(min) + " to " +
                       std::to_string(max) + ", found " + json_type_name(*value));
        return fallback;
    }
    const long long number = value->get<long long>();
    if (number < min || number > max) {
        error(key, std::to_string(number) + " is out of range; use an integer from " +
                       std::to_string(min) + " to " + std::to_string(max));
        return fallback;
    }
    return number;
}

bool JsonFieldReader::boolean(const std::string& key, bool fallback) {
    const auto* value = child(key);
    if (value == nullptr) {
        return fallback;
    }
    if (!value->is_boolean()) {
        error(key, "expected true or false, found " + json_type_name(*value));
        return fallback;
    }
    return value->get<bool>();
}

std::vector<std::string> JsonFieldReader::string_list(const std::string& key) {
    std::vector<std::string> items;
    const auto* value = child(key);
    if (value == nullptr) {
        return items;
    }
    if (!value->is_array()) {
        error(key, "expected an array of strings, found " + json_type_name(*value));
        return items;
    }
    for (std::size_t i = 0; i < value->size(); ++i) {
        const auto& item = (*value)[i];
        if (!item.is_string()) {
            diagnostics_.push_back({file_, pointer_to(key) + "/" + std::to_string(i),
                                    "expected a string, found " + json_type_name(item)});
            continue;
        }
        items.push_back(item.get<std::string>());
    }
    return items;
}

void JsonFieldReader::reject_unknown_keys(const std::vector<std::string>& known) {
    if (!object_.is_object()) {
        return;
    }
    for (const auto& [key, value] : object_.items()) {
        if (std::find(known.begin(), known.end(), key) != known.end()) {
            continue;
        }
        const std::string suggestion = closest_match(key, known);
        error(key,
              "unknown field \"" + key + "\"" +
                  (suggestion.empty() ? "; remove it" : "; did you mean \"" + suggestion + "\"?"));
    }
}

}  // namespace carbon
