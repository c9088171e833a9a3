#include "json_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <set>

namespace carbon {

namespace {

/// Follows the parser's events to know where it is (for a JSON pointer), how deep it is, and
/// which keys each open object has had, and throws JsonInputError past a bound.
class BoundedParse {
  public:
    bool on_event(nlohmann::json::parse_event_t event, const nlohmann::json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        switch (event) {
            case Event::object_start:
            case Event::array_start:
                if (frames_.size() >= kMaxJsonDepth) {
                    throw JsonInputError("nested more than " + std::to_string(kMaxJsonDepth) +
                                             " levels deep, far more than any valid input; "
                                             "remove the nesting",
                                         pointer(), JsonInputError::kNoByte);
                }
                frames_.emplace_back();
                frames_.back().array = event == Event::array_start;
                break;
            case Event::key: {
                Frame& top = frames_.back();
                top.key = parsed.get<std::string>();
                top.has_key = true;
                if (!top.keys.insert(top.key).second) {
                    throw JsonInputError("\"" + top.key +
                                             "\" appears twice in the same object and only one "
                                             "could count; remove one of them",
                                         pointer(), JsonInputError::kNoByte);
                }
                break;
            }
            case Event::object_end:
            case Event::array_end:
                frames_.pop_back();
                element_done();
                break;
            case Event::value:
                element_done();
                break;
        }
        return true;
    }

    /// Where the parser is: the member or element being read.
    std::string pointer() const {
        std::string text;
        for (const auto& frame : frames_) {
            if (frame.array) {
                text += "/" + std::to_string(frame.index);
            } else if (frame.has_key) {
                text += "/" + json_pointer_token(frame.key);
            }
        }
        return text;
    }

  private:
    struct Frame {
        bool array = false;
        std::size_t index = 0;  // of the element being read
        bool has_key = false;
        std::string key;  // of the member being read
        std::set<std::string> keys;
    };

    void element_done() {
        if (!frames_.empty() && frames_.back().array) {
            ++frames_.back().index;
        }
    }

    std::vector<Frame> frames_;
};

/// nlohmann's message without its "[json.exception...] parse error at line 1, column 2: ".
std::string reason_of(const nlohmann::json::exception& e) {
    std::string reason = e.what();
    if (const auto cut = reason.rfind(": "); cut != std::string::npos) {
        reason = reason.substr(cut + 2);
    } else if (const auto bracket = reason.find("] "); bracket != std::string::npos) {
        reason = reason.substr(bracket + 2);
    }
    return reason;
}

}  // namespace

nlohmann::json parse_bounded_json(const std::string& text, bool comments) {
    BoundedParse state;
    try {
        return nlohmann::json::parse(
            text,
            [&state](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
                return state.on_event(event, parsed);
            },
            /*allow_exceptions=*/true, comments);
    } catch (const nlohmann::json::parse_error& e) {
        throw JsonInputError(reason_of(e), state.pointer(), e.byte == 0 ? 0 : e.byte - 1);
    } catch (const nlohmann::json::exception& e) {
        // out_of_range.406: a number beyond a double, such as 1e309.
        throw JsonInputError(reason_of(e) + "; use a number within range", state.pointer(),
                             JsonInputError::kNoByte);
    }
}

nlohmann::json parse_jsonc(const std::string& text, const std::filesystem::path& source,
                           std::vector<Diagnostic>& diagnostics) {
    try {
        return parse_bounded_json(text, /*comments=*/true);
    } catch (const JsonInputError& e) {
        if (e.byte() == JsonInputError::kNoByte) {
            diagnostics.push_back({source, e.pointer().empty() ? "/" : e.pointer(), e.what()});
            return nullptr;
        }
        const auto [line, column] = line_and_column(text, e.byte());
        diagnostics.push_back({source, "",
                               "JSON syntax error at line " + std::to_string(line) + ", column " +
                                   std::to_string(column) + ": " + e.what() +
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

std::string json_pointer_token(const std::string& key) {
    std::string escaped;
    for (const char c : key) {
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

std::optional<long long> integer_within(const nlohmann::json& value, long long min, long long max) {
    if (value.is_number_unsigned()) {
        const auto number = value.get<unsigned long long>();
        if (max < 0 || number > static_cast<unsigned long long>(max)) {
            return std::nullopt;
        }
        const auto in_range = static_cast<long long>(number);
        return in_range >= min ? std::optional(in_range) : std::nullopt;
    }
    if (value.is_number_integer()) {
        const auto number = value.get<long long>();
        return number >= min && number <= max ? std::optional(number) : std::nullopt;
    }
    return std::nullopt;
}

namespace {

/// Bytes taken by the UTF-8 sequence at `text[at]`: its length when well-formed (Unicode table
/// 3-7), else the length of its maximal ill-formed subpart (at least 1).
std::size_t utf8_sequence(std::string_view text, std::size_t at, bool& valid) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(at);
    valid = true;
    if (lead < 0x80) {
        return 1;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;  // the second byte's range, narrowed after E0, ED, F0, F4
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        low = lead == 0xE0 ? 0xA0 : low;    // no overlong forms
        high = lead == 0xED ? 0x9F : high;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        low = lead == 0xF0 ? 0x90 : low;
        high = lead == 0xF4 ? 0x8F : high;  // nothing past U+10FFFF
    } else {
        valid = false;
        return 1;
    }
    for (std::size_t k = 1; k < length; ++k) {
        if (at + k >= text.size() || byte(at + k) < (k == 1 ? low : 0x80) ||
            byte(at + k) > (k == 1 ? high : 0xBF)) {
            valid = false;
            return k;
        }
    }
    return length;
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
    bool valid = true;
    for (std::size_t at = 0; at < bytes.size() && valid;) {
        at += utf8_sequence(bytes, at, valid);
    }
    return valid;
}

std::string to_valid_utf8(std::string_view bytes) {
    std::string text;
    text.reserve(bytes.size());
    for (std::size_t at = 0; at < bytes.size();) {
        bool valid = true;
        const std::size_t length = utf8_sequence(bytes, at, valid);
        if (valid) {
            text.append(bytes.substr(at, length));
        } else {
            text += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
        }
        at += length;
    }
    return text;
}

std::string base64_encode(std::string_view bytes) {
    std::string text;
    text.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t at = 0; at < bytes.size(); at += 3) {
        const std::size_t left = std::min<std::size_t>(3, bytes.size() - at);
        std::uint32_t group = 0;
        for (std::size_t k = 0; k < 3; ++k) {
            group = (group << 8) | (k < left ? static_cast<unsigned char>(bytes[at + k]) : 0U);
        }
        for (std::size_t k = 0; k < 4; ++k) {
            text += k <= left ? kBase64Alphabet[(group >> (18 - 6 * k)) & 0x3F] : '=';
        }
    }
    return text;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    std::string bytes;
    bytes.reserve(text.size() / 4 * 3);
    for (std::size_t at = 0; at < text.size(); at += 4) {
        std::size_t padding = 0;  // only the last group may end in "=" or "=="
        if (at + 4 == text.size() && text[at + 3] == '=') {
            padding = text[at + 2] == '=' ? 2 : 1;
        }
        std::uint32_t group = 0;
        for (std::size_t k = 0; k < 4 - padding; ++k) {
            const auto digit = kBase64Alphabet.find(text[at + k]);
            if (digit == std::string_view::npos) {
                return std::nullopt;
            }
            group = (group << 6) | static_cast<std::uint32_t>(digit);
        }
        group <<= 6 * padding;
        for (std::size_t k = 0; k < 3 - padding; ++k) {
            bytes += static_cast<char>((group >> (16 - 8 * k)) & 0xFF);
        }
    }
    return bytes;
}

JsonFieldReader::JsonFieldReader(const nlohmann::json& object, std::filesystem::path file,
                                 std::string pointer, std::vector<Diagnostic>& diagnostics)
    : object_(object),
      file_(std::move(file)),
      pointer_(std::move(pointer)),
      diagnostics_(diagnostics) {}

std::string JsonFieldReader::pointer_to(const std::string& key) const {
    return pointer_ + "/" + json_pointer_token(key);
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
    const auto number = integer_within(*value, min, max);
    if (!number) {
        error(key, value->dump() + " is out of range; use an integer from " + std::to_string(min) +
                       " to " + std::to_string(max));
        return fallback;
    }
    return *number;
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
        const std::string suggestion = did_you_mean(key, known);
        error(key,
              "unknown field \"" + key + "\"" + (suggestion.empty() ? "; remove it" : suggestion));
    }
}

}  // namespace carbon
