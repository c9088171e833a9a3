#include "diagnostics.hpp"

#include <algorithm>
#include <numeric>

namespace carbon {

std::string Diagnostic::to_string() const {
    std::string text = file.string();
    if (!pointer.empty()) {
        text += ": " + pointer;
    }
    return text + ": " + message;
}

static std::string join_diagnostics(const std::vector<Diagnostic>& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) {
        if (!text.empty()) {
            text += '\n';
        }
        text += d.to_string();
    }
    return text;
}

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

ConfigError::ConfigError(std::filesystem::path file, std::string pointer, std::string message)
    : ConfigError(
          std::vector<Diagnostic>{{std::move(file), std::move(pointer), std::move(message)}}) {}

static std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), 0);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    // Allow about a third of the word to differ: catches typos without suggesting nonsense.
    std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const auto& candidate : candidates) {
        const std::size_t distance = edit_distance(word, candidate);
        if (distance < best_distance) {
            best_distance = distance;
            best = candidate;
        }
    }
    return best;
}

std::pair<std::size_t, std::size_t> line_and_column(const std::string& text, std::size_t offset) {
    offset = std::min(offset, text.size());
    std::size_t line = 1;
    std::size_t column = 1;
    for (std::size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return {line, column};
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
    const std::string suggestion = closest_match(word, candidates);
    return suggestion.empty() ? "" : "; did you mean \"" + suggestion + "\"?";
}

}  // namespace carbon
