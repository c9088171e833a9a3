#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace carbon {

/// One problem found in an input file: where it is and what to do about it.
struct Diagnostic {
    std::filesystem::path file;
    std::string pointer;  // JSON pointer or key path inside the file; empty for the whole file
    std::string message;  // what is wrong and how to fix it

    std::string to_string() const;
};

/// Thrown at load time with every problem found, so a user fixes them all in one pass.
class ConfigError : public std::runtime_error {
  public:
    explicit ConfigError(std::vector<Diagnostic> diagnostics);
    ConfigError(std::filesystem::path file, std::string pointer, std::string message);

    const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

  private:
    std::vector<Diagnostic> diagnostics_;
};

/// The closest candidate to `word` by edit distance, or "" when none is close enough.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

/// `; did you mean "X"?` for the closest candidate, or "" when none is close: every "no such
/// name" message ends with it, so they all read alike.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

/// 1-based line and column of a byte offset in `text`.
std::pair<std::size_t, std::size_t> line_and_column(const std::string& text, std::size_t offset);

}  // namespace carbon
