#pragma once

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostics.hpp"

namespace carbon {

/// The deepest nesting any JSON input of the launcher may have (profiles, runtime tables, state
/// files, control requests). A profile needs 3 levels; the bound keeps every recursive walk of
/// a parsed value (dump, copy, compare) far from the end of the stack.
inline constexpr std::size_t kMaxJsonDepth = 64;

/// Why parse_bounded_json refused a text.
class JsonInputError : public std::runtime_error {
  public:
    static constexpr std::size_t kNoByte = static_cast<std::size_t>(-1);
    JsonInputError(const std::string& message, std::string pointer, std::size_t byte)
        : std::runtime_error(message), pointer_(std::move(pointer)), byte_(byte) {}
    /// JSON pointer of the offending member ("" when unknown).
    const std::string& pointer() const { return pointer_; }
    /// Byte offset of a syntax error, kNoByte for the other refusals.
    std::size_t byte() const { return byte_; }

  private:
    std::string pointer_;
    std::size_t byte_;
};

/// Parses untrusted JSON: nesting deeper than kMaxJsonDepth, a key repeated within one object
/// (nlohmann would keep the last silently) and numbers beyond a double are refused, like syntax
/// errors, with a JsonInputError. Comments // and /* */ are allowed when `comments` is set.
nlohmann::json parse_bounded_json(const std::string& text, bool comments);

/// Parses JSON that may contain // and /* */ comments, with parse_bounded_json's bounds; a
/// syntax error becomes a Diagnostic with line and column, any other refusal one naming the
/// member, and the result is null.
nlohmann::json parse_jsonc(const std::string& text, const std::filesystem::path& source,
                           std::vector<Diagnostic>& diagnostics);

/// Reads typed fields from a JSON object, collecting a Diagnostic for every problem instead of
/// stopping at the first, so one run reports all mistakes in a file.
class JsonFieldReader {
  public:
    JsonFieldReader(const nlohmann::json& object, std::filesystem::path file, std::string pointer,
                    std::vector<Diagnostic>& diagnostics);

    bool has(const std::string& key) const;
    std::string string(const std::string& key, const std::string& fallback = "");
    std::string required_string(const std::string& key, const std::string& hint);
    long long integer(const std::string& key, long long fallback, long long min, long long max);
    bool boolean(const std::string& key, bool fallback);
    std::vector<std::string> string_list(const std::string& key);
    /// Reports keys outside `known` with a "did you mean" suggestion.
    void reject_unknown_keys(const std::vector<std::string>& known);
    void error(const std::string& key, const std::string& message);
    std::string pointer_to(const std::string& key) const;
    const nlohmann::json* child(const std::string& key) const;
    const std::filesystem::path& file() const { return file_; }
    std::vector<Diagnostic>& diagnostics() { return diagnostics_; }

  private:
    const nlohmann::json& object_;
    std::filesystem::path file_;
    std::string pointer_;
    std::vector<Diagnostic>& diagnostics_;
};

/// Human name of a JSON value's type, for "expected a string, found a number".
std::string json_type_name(const nlohmann::json& value);

/// The value as a long long when it is an integer within [min, max]; nullopt otherwise, also
/// for integers beyond long long (which nlohmann keeps unsigned: 2^63 is not -2^63).
std::optional<long long> integer_within(const nlohmann::json& value, long long min, long long max);

/// JSON pointer token for `key` (~ and / escaped).
std::string json_pointer_token(const std::string& key);

/// True when `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points past
/// U+10FFFF), which is what nlohmann requires of every string it serializes.
bool is_valid_utf8(std::string_view bytes);

/// `bytes` with every ill-formed UTF-8 sequence replaced by U+FFFD (one per maximal ill-formed
/// subpart, as Unicode recommends); valid UTF-8 comes back unchanged.
std::string to_valid_utf8(std::string_view bytes);

/// RFC 4648 base64 with padding.
std::string base64_encode(std::string_view bytes);
/// The bytes of RFC 4648 base64 text, or nullopt when it is not base64.
std::optional<std::string> base64_decode(std::string_view text);

/// Calls `read_entry(reader)` for each object of the array at `key` in `parent`; nothing when the
/// key is absent; a diagnostic for a value that is not an array, and for each element that is
/// not an object.
template <class ReadEntry>
void for_each_object_entry(JsonFieldReader& parent, const std::string& key, ReadEntry read_entry) {
    const auto* entries = parent.child(key);
    if (entries == nullptr) {
        return;
    }
    if (!entries->is_array()) {
        parent.error(key, "expected an array of objects, found " + json_type_name(*entries));
        return;
    }
    for (std::size_t i = 0; i < entries->size(); ++i) {
        const std::string pointer = parent.pointer_to(key) + "/" + std::to_string(i);
        if (!(*entries)[i].is_object()) {
            parent.diagnostics().push_back(
                {parent.file(), pointer,
                 "expected an object, found " + json_type_name((*entries)[i])});
            continue;
        }
        JsonFieldReader entry((*entries)[i], parent.file(), pointer, parent.diagnostics());
        read_entry(entry);
    }
}

}  // namespace carbon
