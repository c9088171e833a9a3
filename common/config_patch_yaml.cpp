#include <yaml-cpp/yaml.h>

#include <optional>

#include "config_patch.hpp"
#include "diagnostics.hpp"
#include "text_lines.hpp"

namespace carbon {
namespace {

constexpr const char* kSetting = "wso2.carbon.ports.offset";

[[noreturn]] void refuse(const std::filesystem::path& source, const std::string& message) {
    throw ConfigError(source, kSetting, message + "; nothing was written");
}

/// The key of a "key: value" line, or "" for anything else.
std::string key_of(const std::string& line) {
    const auto first = line.find_first_not_of(' ');
    const auto colon = line.find(':', first);
    if (first == std::string::npos || colon == std::string::npos) {
        return "";
    }
    std::string key = line.substr(first, colon - first);
    while (!key.empty() && key.back() == ' ') {
        key.pop_back();
    }
    return key;
}

/// What follows "key:", without leading spaces.
std::string value_of(const std::string& line) {
    const auto colon = line.find(':');
    const auto start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
}

void require_block_header(const std::filesystem::path& source, const std::string& line,
                          std::size_t index, const std::string& key) {
    const std::string value = value_of(line);
    if (value.empty() || value.front() == '#') {
        return;
    }
    if (value.front() == '{' || value.front() == '[') {
        refuse(source, at_line(index) + ": \"" + key + "\" is written in flow style (" + value +
                           "); write it as an indented block so the edit stays unambiguous");
    }
    if (value.front() == '&' || value.front() == '*') {
        refuse(source, at_line(index) + ": \"" + key + "\" uses a YAML anchor or alias (" + value +
                           "); write the values out so the edit stays unambiguous");
    }
    refuse(source, at_line(index) + ": \"" + key + "\" should hold a block of settings, found \"" +
                       value + "\"");
}

/// The lines [first, end) of the block under a header at `header_indent`.
std::size_t block_end(const std::vector<TextLine>& lines, std::size_t header, int header_indent) {
    std::size_t i = header + 1;
    for (; i < lines.size(); ++i) {
        if (!is_blank_or_comment(lines[i].content) &&
            indentation(lines[i].content) <= header_indent) {
            break;
        }
    }
    return i;
}

/// Indices of the key lines named `key` at `indent` within [from, to).
std::vector<std::size_t> find_keys(const std::vector<TextLine>& lines, std::size_t from,
                                   std::size_t to, int indent, const std::string& key) {
    std::vector<std::size_t> found;
    for (std::size_t i = from; i < to; ++i) {
        const auto& content = lines[i].content;
        if (!is_blank_or_comment(content) && indentation(content) == indent &&
            key_of(content) == key) {
            found.push_back(i);
        }
    }
    return found;
}

/// Indentation of the first key line in [from, to), or nullopt when the block is empty.
std::optional<int> child_indent(const std::vector<TextLine>& lines, std::size_t from,
                                std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
        if (!is_blank_or_comment(lines[i].content)) {
            return indentation(lines[i].content);
        }
    }
    return std::nullopt;
}

std::size_t only_one(const std::filesystem::path& source, const std::vector<std::size_t>& found,
                     const std::string& key) {
    if (found.size() > 1) {
        refuse(source, "\"" + key + "\" appears twice (" + at_line(found[0]) + " and " +
                           at_line(found[1]) +
                           "); keep one so it is clear which the runtime reads");
    }
    return found.front();
}

void check_indentation(const std::filesystem::path& source, const std::vector<TextLine>& lines) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (!is_blank_or_comment(lines[i].content) && indentation(lines[i].content) < 0) {
            refuse(source, at_line(i) +
                               " is indented with a tab, which YAML does not allow; "
                               "indent with spaces");
        }
    }
}

/// Replaces the value token of an "offset: VALUE  # comment" line, keeping everything else.
void replace_offset_value(const std::filesystem::path& source, TextLine& line, std::size_t index,
                          int offset, bool force) {
    const std::string& content = line.content;
    const auto colon = content.find(':');
    const auto start = content.find_first_not_of(' ', colon + 1);
    if (start == std::string::npos || content[start] == '#') {
        refuse(source, at_line(index) + ": \"offset:\" has no value; write \"offset: 0\"");
    }
    std::size_t end = start;
    if (content[start] == '"' || content[start] == '\'') {
        end = content.find(content[start], start + 1);
        if (end == std::string::npos) {
            refuse(source, at_line(index) + ": unterminated quote in the offset value");
        }
        ++end;
    } else {
        const auto comment = content.find(" #", start);
        end = comment == std::string::npos ? content.size() : comment;
        while (end > start && content[end - 1] == ' ') {
            --end;
        }
    }
    const std::string token = content.substr(start, end - start);
    const bool quoted = token.front() == '"' || token.front() == '\'';
    const std::string inner = quoted ? token.substr(1, token.size() - 2) : token;
    if (token.front() == '&' || token.front() == '*') {
        refuse(source, at_line(index) + ": the offset uses a YAML anchor or alias (" + token +
                           "); write the number out");
    }
    const bool numeric =
        !inner.empty() && inner.find_first_not_of("0123456789") == std::string::npos;
    if (!numeric && !force) {
        refuse(source,
               at_line(index) + ": the offset is \"" + inner + "\"" +
                   (inner.find("${") != std::string::npos ? ", a placeholder resolved at run time"
                                                          : ", not a number") +
                   "; replace it by hand, or pass --force to overwrite it");
    }
    if (numeric && std::stoll(inner.substr(0, 9)) == offset && inner.size() < 9) {
        return;  // already set
    }
    const std::string value =
        quoted ? token.front() + std::to_string(offset) + token.back() : std::to_string(offset);
    line.content = content.substr(0, start) + value + content.substr(end);
}

/// An alias or merge key under wso2.carbon could bring in a second "ports" from elsewhere:
/// the text would no longer say what the runtime reads.
void refuse_anchors_in(const std::filesystem::path& source, const std::vector<TextLine>& lines,
                       std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
        const std::string& content = lines[i].content;
        if (is_blank_or_comment(content)) {
            continue;
        }
        const std::string value = value_of(content);
        if (key_of(content) == "<<" ||
            (!value.empty() && (value.front() == '&' || value.front() == '*'))) {
            refuse(source, at_line(i) +
                               " uses a YAML anchor, alias or merge key under "
                               "wso2.carbon; write the values out so the edit stays unambiguous");
        }
    }
}

bool same_tree(const YAML::Node& a, const YAML::Node& b) {
    if (a.Type() != b.Type()) {
        return false;
    }
    switch (a.Type()) {
        case YAML::NodeType::Scalar:
            return a.Scalar() == b.Scalar();
        case YAML::NodeType::Sequence: {
            if (a.size() != b.size()) {
                return false;
            }
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (!same_tree(a[i], b[i])) {
                    return false;
                }
            }
            return true;
        }
        case YAML::NodeType::Map: {
            if (a.size() != b.size()) {
                return false;
            }
            // By key, not by position: an inserted key lands where the text puts it.
            for (const auto& entry_a : a) {
                bool matched = false;
                for (const auto& entry_b : b) {
                    if (same_tree(entry_a.first, entry_b.first)) {
                        matched = same_tree(entry_a.second, entry_b.second);
                        break;
                    }
                }
                if (!matched) {
                    return false;
                }
            }
            return true;
        }
        default:
            return true;
    }
}

YAML::Node parse_or_refuse(const std::string& text, const std::filesystem::path& source,
                           const std::string& what) {
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        refuse(source, what + " is not valid YAML (line " + std::to_string(e.mark.line + 1) + ": " +
                           e.msg + ")");
    }
}

/// Re-parses the patched text and checks that it equals the original tree with only the
/// offset set: the proof that the text edit did what it meant and nothing else.
void verify(const std::string& original, const std::string& patched, int offset,
            const std::filesystem::path& source) {
    YAML::Node expected = YAML::Clone(parse_or_refuse(original, source, "the file"));
    const YAML::Node actual = parse_or_refuse(patched, source, "the patched file");
    bool ok = false;
    try {
        // Throws when the tree is not maps down to "ports" (the text looked like it, the
        // parser disagrees): that is a failed verification, not a crash.
        expected["wso2.carbon"]["ports"]["offset"] = offset;
        const YAML::Node& read_back = actual;
        ok = same_tree(expected, actual) &&
             read_back["wso2.carbon"]["ports"]["offset"].as<int>() == offset;
    } catch (const YAML::Exception&) {
        ok = false;
    }
    if (!ok) {
        refuse(source,
               "the edit did not verify (the re-parsed file differs from the original in "
               "more than the offset); set the offset by hand");
    }
}

}  // namespace

std::string patch_si_offset(const std::string& text, int offset,
                            const std::filesystem::path& source, bool force) {
    if (text.find('\0') != std::string::npos) {
        refuse(source, "the file holds binary data (a NUL byte), not YAML");
    }
    auto lines = split_lines(text);
    check_indentation(source, lines);  // before parsing: a clearer message than the parser's
    parse_or_refuse(text, source, "the file");
    std::vector<std::size_t> carbon_headers;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string content = lines[i].content;
        if (i == 0 && content.rfind("\xEF\xBB\xBF", 0) == 0) {
            content = content.substr(3);  // UTF-8 byte order mark
        }
        if (!is_blank_or_comment(content) && indentation(content) == 0 &&
            key_of(content) == "wso2.carbon") {
            carbon_headers.push_back(i);
        }
    }
    if (carbon_headers.empty()) {
        refuse(source,
               "there is no top-level \"wso2.carbon:\" section, so this is not a Carbon "
               "deployment.yaml; check the home, or restore the file from the pack");
    }
    const std::size_t carbon = only_one(source, carbon_headers, "wso2.carbon");
    require_block_header(source, lines[carbon].content, carbon, "wso2.carbon");
    const std::size_t carbon_end = block_end(lines, carbon, 0);
    refuse_anchors_in(source, lines, carbon + 1, carbon_end);
    const auto step = child_indent(lines, carbon + 1, carbon_end);
    if (!step || *step <= 0) {
        refuse(source, "\"wso2.carbon:\" is empty; restore the file from the pack");
    }
    const auto ports_found = find_keys(lines, carbon + 1, carbon_end, *step, "ports");
    if (ports_found.empty()) {
        std::size_t last = carbon;
        for (std::size_t i = carbon + 1; i < carbon_end; ++i) {
            if (!is_blank_or_comment(lines[i].content)) {
                last = i;
            }
        }
        insert_line_after(lines, last, std::string(*step, ' ') + "ports:");
        insert_line_after(lines, last + 1,
                          std::string(2 * *step, ' ') + "offset: " + std::to_string(offset));
    } else {
        const std::size_t ports = only_one(source, ports_found, "ports");
        require_block_header(source, lines[ports].content, ports, "ports");
        const std::size_t ports_end = block_end(lines, ports, *step);
        const int inner = child_indent(lines, ports + 1, ports_end).value_or(2 * *step);
        const auto offsets = find_keys(lines, ports + 1, ports_end, inner, "offset");
        if (offsets.empty()) {
            insert_line_after(lines, ports,
                              std::string(inner, ' ') + "offset: " + std::to_string(offset));
        } else {
            const std::size_t at = only_one(source, offsets, "offset");
            replace_offset_value(source, lines[at], at, offset, force);
        }
    }
    // Verified even when nothing changed: "already N" must be what the parser reads too.
    std::string patched = join_lines(lines);
    verify(text, patched, offset, source);
    return patched;
}

}  // namespace carbon
