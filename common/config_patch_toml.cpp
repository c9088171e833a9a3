#include "toml_parser.hpp"

#include <functional>
#include <optional>

#include "config_patch.hpp"
#include "diagnostics.hpp"
#include "text_lines.hpp"
#include "toml_refusal.hpp"

namespace carbon {
namespace {

/// "offset = 3" / "offset=3" with any spacing: the position of the value, or npos.
std::size_t value_position(const std::string& line, const std::string& key) {
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line.compare(start, key.size(), key) != 0) {
        return std::string::npos;
    }
    auto at = line.find_first_not_of(" \t", start + key.size());
    if (at == std::string::npos || line[at] != '=') {
        return std::string::npos;
    }
    at = line.find_first_not_of(" \t", at + 1);
    return at == std::string::npos ? line.size() : at;
}

/// Where a value token ends: before a trailing comment and the spaces in front of it.
std::size_t value_end(const std::string& line, std::size_t start) {
    std::size_t end = line.find('#', start);
    end = end == std::string::npos ? line.size() : end;
    while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t')) {
        --end;
    }
    return end;
}

struct ServerTable {
    std::size_t header;
    std::size_t end;  // first line after the table
};

ServerTable find_server_table(const std::vector<TextLine>& lines,
                              const std::filesystem::path& source) {
    std::vector<std::size_t> headers;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string content = without_leading_blanks(lines[i].content);
        if (content.rfind("[server]", 0) == 0) {
            const std::string rest = without_leading_blanks(content.substr(8));
            if (rest.empty() || rest.front() == '#') {
                headers.push_back(i);
            }
        }
    }
    if (headers.empty()) {
        refuse_toml_edit(
            source, "[server] offset",
            "there is no [server] table, so this is not an API-M deployment.toml; check the "
            "home, or restore the file from the pack");
    }
    if (headers.size() > 1) {
        refuse_toml_edit(
            source, "[server] offset",
            "[server] appears twice (" + at_line(headers[0]) + " and " + at_line(headers[1]) + ")");
    }
    std::size_t end = headers.front() + 1;
    while (end < lines.size() && without_leading_blanks(lines[end].content).rfind('[', 0) != 0) {
        ++end;
    }
    return {headers.front(), end};
}

/// Applies the edit to the parsed original and compares with the parsed patch.
void verify(const std::string& original, const std::string& patched,
            const std::filesystem::path& source, const std::string& setting,
            const std::function<void(toml::table&)>& expected_edit) {
    toml::table expected = parse_toml_or_refuse(original, source, setting, "the file");
    expected_edit(expected);
    const toml::table actual = parse_toml_or_refuse(patched, source, setting, "the patched file");
    if (!(expected == actual)) {
        refuse_toml_edit(source, setting,
                         "the edit did not verify (the re-parsed file differs from the "
                         "original in more than " +
                             setting + "); edit the file by hand");
    }
}

void move_urls_in_tree(toml::node& node, const RuntimeTable& table, int offset,
                       const std::string& key = "") {
    if (auto* t = node.as_table()) {
        for (auto&& [k, v] : *t) {
            move_urls_in_tree(v, table, offset, std::string(k.str()));
        }
    } else if (auto* array = node.as_array()) {
        for (auto& element : *array) {
            move_urls_in_tree(element, table, offset, key);
        }
    } else if (auto* text = node.as_string()) {
        for (const auto& advertised : table.advertised_urls) {
            const PortSpec* port = table.find_port(advertised.port_key);
            if (advertised.toml_key == key && port != nullptr) {
                *text = moved_url(text->get(), port->base, offset);
            }
        }
    }
}

}  // namespace

/// The port in "scheme://host:PORT..." as [begin, end) of its digits, or {npos, npos}.
static std::pair<std::size_t, std::size_t> url_port_span(const std::string& url) {
    const auto scheme = url.find("://");
    const std::size_t host = scheme == std::string::npos ? 0 : scheme + 3;
    auto colon = url.find(':', host);
    if (colon == std::string::npos) {
        return {std::string::npos, std::string::npos};
    }
    std::size_t end = colon + 1;
    while (end < url.size() && std::isdigit(static_cast<unsigned char>(url[end]))) {
        ++end;
    }
    if (end == colon + 1 || end - colon - 1 > 5) {
        return {std::string::npos, std::string::npos};
    }
    return {colon + 1, end};
}

std::string moved_url(const std::string& url, int base, int offset) {
    const auto [begin, end] = url_port_span(url);
    if (begin == std::string::npos) {
        return url;
    }
    const int port = std::stoi(url.substr(begin, end - begin));
    if (port < base) {
        return url;
    }
    return url.substr(0, begin) + std::to_string(base + offset) + url.substr(end);
}

std::string patch_toml_server_offset(const std::string& text, int offset,
                                     const std::filesystem::path& source) {
    const std::string setting = "[server] offset";
    if (text.find('\0') != std::string::npos) {
        refuse_toml_edit(source, setting, "the file holds binary data (a NUL byte), not TOML");
    }
    parse_toml_or_refuse(text, source, setting, "the file");
    auto lines = split_lines(text);
    const ServerTable server = find_server_table(lines, source);
    std::optional<std::size_t> active;
    std::optional<std::size_t> commented;
    for (std::size_t i = server.header + 1; i < server.end; ++i) {
        const std::string& content = lines[i].content;
        if (value_position(content, "offset") != std::string::npos) {
            active = i;  // the parser already refused a duplicate key
        } else if (!commented) {
            const std::string trimmed = without_leading_blanks(content);
            if (!trimmed.empty() && trimmed.front() == '#' &&
                value_position(without_leading_blanks(trimmed.substr(1)), "offset") !=
                    std::string::npos) {
                commented = i;
            }
        }
    }
    const std::string number = std::to_string(offset);
    if (active) {
        std::string& content = lines[*active].content;
        const std::size_t start = value_position(content, "offset");
        const std::size_t end = value_end(content, start);
        content = content.substr(0, start) + number + content.substr(end);
    } else if (commented) {
        // "#offset=0" -> "offset=N": keep the line's own spacing around '='.
        std::string& content = lines[*commented].content;
        const auto hash = content.find('#');
        std::string uncommented =
            content.substr(0, hash) + without_leading_blanks(content.substr(hash + 1));
        const std::size_t start = value_position(uncommented, "offset");
        uncommented = uncommented.substr(0, start) + number +
                      uncommented.substr(value_end(uncommented, start));
        content = uncommented;
    } else {
        insert_line_after(lines, server.header, "offset = " + number);
    }
    std::string patched = join_lines(lines);
    verify(text, patched, source, setting, [&](toml::table& tree) {
        toml::table* server_table = tree["server"].as_table();
        if (server_table ==
            nullptr) {  // found by the fuzzer: the text's "[server]" is not a header
            refuse_toml_edit(
                source, setting,
                "the parser does not read a [server] table where the text has one (is it inside a "
                "multi-line string?); set the offset by hand");
        }
        server_table->insert_or_assign("offset", static_cast<int64_t>(offset));
    });
    return patched;
}

std::string patch_advertised_urls(const std::string& text, const RuntimeTable& table, int offset,
                                  const std::filesystem::path& source) {
    const std::string setting = "advertised URLs";
    if (text.find('\0') != std::string::npos) {
        refuse_toml_edit(source, setting, "the file holds binary data (a NUL byte), not TOML");
    }
    parse_toml_or_refuse(text, source, setting, "the file");
    auto lines = split_lines(text);
    bool changed = false;
    for (auto& line : lines) {
        for (const auto& advertised : table.advertised_urls) {
            const PortSpec* port = table.find_port(advertised.port_key);
            const std::size_t start = value_position(line.content, advertised.toml_key);
            if (port == nullptr || start == std::string::npos || start >= line.content.size() ||
                line.content[start] != '"') {
                continue;
            }
            const std::size_t close = line.content.find('"', start + 1);
            if (close == std::string::npos) {
                continue;
            }
            const std::string url = line.content.substr(start + 1, close - start - 1);
            const std::string moved = moved_url(url, port->base, offset);
            if (moved != url) {
                line.content =
                    line.content.substr(0, start + 1) + moved + line.content.substr(close);
                changed = true;
            }
        }
    }
    std::string patched = changed ? join_lines(lines) : text;
    verify(text, patched, source, setting,
           [&](toml::table& tree) { move_urls_in_tree(tree, table, offset); });
    return patched;
}

}  // namespace carbon
