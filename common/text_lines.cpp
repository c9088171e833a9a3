#include "text_lines.hpp"

#include <algorithm>

namespace carbon {

std::vector<TextLine> split_lines(const std::string& text) {
    std::vector<TextLine> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t newline = text.find('\n', start);
        if (newline == std::string::npos) {
            lines.push_back({text.substr(start), ""});
            break;
        }
        const bool crlf = newline > start && text[newline - 1] == '\r';
        const std::size_t content_end = crlf ? newline - 1 : newline;
        lines.push_back({text.substr(start, content_end - start), crlf ? "\r\n" : "\n"});
        start = newline + 1;
    }
    return lines;
}

std::string join_lines(const std::vector<TextLine>& lines) {
    std::string text;
    for (const auto& line : lines) {
        text += line.content;
        text += line.eol;
    }
    return text;
}

std::string dominant_eol(const std::vector<TextLine>& lines) {
    const auto crlf = std::count_if(lines.begin(), lines.end(),
                                    [](const TextLine& l) { return l.eol == "\r\n"; });
    const auto lf =
        std::count_if(lines.begin(), lines.end(), [](const TextLine& l) { return l.eol == "\n"; });
    return crlf > lf ? "\r\n" : "\n";
}

void insert_line_after(std::vector<TextLine>& lines, std::size_t after, std::string content) {
    const std::string eol = dominant_eol(lines);
    TextLine inserted{std::move(content), eol};
    if (lines[after].eol.empty()) {
        lines[after].eol = eol;
        inserted.eol = "";
    }
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(after) + 1, inserted);
}

std::string at_line(std::size_t index) {
    return "line " + std::to_string(index + 1);
}

int indentation(const std::string& line) {
    int spaces = 0;
    for (const char c : line) {
        if (c == ' ') {
            ++spaces;
        } else if (c == '\t') {
            return -1;
        } else {
            break;
        }
    }
    return spaces;
}

bool is_blank_or_comment(const std::string& line) {
    const auto first = line.find_first_not_of(" \t\r");
    return first == std::string::npos || line[first] == '#';
}

namespace {

struct Hunk {
    std::size_t before_start, before_count, after_start, after_count;
};

void append_range(std::string& out, const std::vector<TextLine>& lines, std::size_t from,
                  std::size_t to, char marker) {
    for (std::size_t i = from; i < to; ++i) {
        out += marker;
        out += lines[i].content;
        out += '\n';
        if (lines[i].eol.empty()) {
            out += "\\ No newline at end of file\n";
        }
    }
}

}  // namespace

std::string unified_diff(const std::string& before, const std::string& after,
                         const std::string& path) {
    if (before == after) {
        return "";
    }
    const auto a = split_lines(before);
    const auto b = split_lines(after);
    const auto same = [](const TextLine& x, const TextLine& y) {
        return x.content == y.content && x.eol == y.eol;
    };
    // Patches here change a few lines in place or insert one: trimming the common head and tail
    // leaves a small middle, compared line by line when both sides have the same length.
    std::size_t head = 0;
    while (head < a.size() && head < b.size() && same(a[head], b[head])) {
        ++head;
    }
    std::size_t tail = 0;
    while (tail < a.size() - head && tail < b.size() - head &&
           same(a[a.size() - 1 - tail], b[b.size() - 1 - tail])) {
        ++tail;
    }
    std::vector<std::pair<std::size_t, std::size_t>> changes;  // [begin, end) in a (and b)
    if (a.size() == b.size()) {
        for (std::size_t i = head; i < a.size() - tail; ++i) {
            if (!same(a[i], b[i])) {
                if (!changes.empty() && changes.back().second == i) {
                    changes.back().second = i + 1;
                } else {
                    changes.emplace_back(i, i + 1);
                }
            }
        }
    }
    std::string out = "--- " + path + "\n+++ " + path + " (patched)\n";
    constexpr std::size_t kContext = 3;
    if (changes.empty()) {  // lengths differ: one hunk over the middle
        const std::size_t from = head >= kContext ? head - kContext : 0;
        const std::size_t a_to = std::min(a.size(), a.size() - tail + kContext);
        const std::size_t b_to = std::min(b.size(), b.size() - tail + kContext);
        out += "@@ -" + std::to_string(from + 1) + "," + std::to_string(a_to - from) + " +" +
               std::to_string(from + 1) + "," + std::to_string(b_to - from) + " @@\n";
        append_range(out, a, from, head, ' ');
        append_range(out, a, head, a.size() - tail, '-');
        append_range(out, b, head, b.size() - tail, '+');
        append_range(out, a, a.size() - tail, a_to, ' ');
        return out;
    }
    for (std::size_t c = 0; c < changes.size();) {
        const std::size_t from = changes[c].first >= kContext ? changes[c].first - kContext : 0;
        std::size_t last = c;  // merge changes whose context overlaps
        while (last + 1 < changes.size() &&
               changes[last + 1].first <= changes[last].second + 2 * kContext) {
            ++last;
        }
        const std::size_t to = std::min(a.size(), changes[last].second + kContext);
        out += "@@ -" + std::to_string(from + 1) + "," + std::to_string(to - from) + " +" +
               std::to_string(from + 1) + "," + std::to_string(to - from) + " @@\n";
        std::size_t at = from;
        for (std::size_t k = c; k <= last; ++k) {
            append_range(out, a, at, changes[k].first, ' ');
            append_range(out, a, changes[k].first, changes[k].second, '-');
            append_range(out, b, changes[k].first, changes[k].second, '+');
            at = changes[k].second;
        }
        append_range(out, a, at, to, ' ');
        c = last + 1;
    }
    return out;
}

std::string last_lines(const std::string& text, int lines) {
    std::size_t at = text.size();
    if (at > 0 && text[at - 1] == '\n') {
        --at;  // the final newline ends the last line, it does not start another
    }
    for (int seen = 0; at > 0; --at) {
        if (text[at - 1] == '\n' && ++seen == lines) {
            break;
        }
    }
    return text.substr(at);
}

std::string without_leading_blanks(const std::string& text) {
    const auto first = text.find_first_not_of(" \t");
    return first == std::string::npos ? "" : text.substr(first);
}

}  // namespace carbon
