#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diagnostics.hpp"

namespace carbon {

/// Parses JSON that may contain // and /* */ comments; a syntax error becomes a Diagnostic
/// with line and column, and the result is null.
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

}  // namespace carbon
