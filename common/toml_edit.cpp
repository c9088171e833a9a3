#include "toml_edit.hpp"

#include "toml_parser.hpp"

#include <sstream>

#include "diagnostics.hpp"
#include "text_lines.hpp"
#include "toml_refusal.hpp"

namespace carbon {

namespace {
namespace toml_edit_detail {  // named apart from the other patchers' helpers (unity builds)

std::string dotted(const std::vector<std::string>& path) {
    std::string text;
    for (const auto& segment : path) {
        text += (text.empty() ? "" : ".") + segment;
    }
    return text;
}

// ---- the tree ----

/// The table at the first `count` segments of `path`; a segment holding an array of tables
/// stands for its last element, as TOML reads `[a.b]` after `[[a]]`. With `create`, missing
/// tables are made.
toml::table* table_in(toml::table& root, const std::vector<std::string>& path, std::size_t count,
                      bool create) {
    toml::table* table = &root;
    for (std::size_t i = 0; i < count; ++i) {
        toml::node* node = table->get(path[i]);
        if (node == nullptr) {
            if (!create) {
                return nullptr;
            }
            table = table->insert(path[i], toml::table{}).first->second.as_table();
            continue;
        }
        if (auto* sub = node->as_table()) {
            table = sub;
        } else if (auto* array = node->as_array();
                   array != nullptr && !array->empty() && array->back().is_table()) {
            table = array->back().as_table();
        } else {
            return nullptr;
        }
    }
    return table;
}

/// The node named by the last segment of `path` (a table, an array of tables, a value).
toml::node* node_at(toml::table& root, const std::vector<std::string>& path) {
    if (path.empty()) {
        return nullptr;
    }
    toml::table* parent = table_in(root, path, path.size() - 1, false);
    return parent == nullptr ? nullptr : parent->get(path.back());
}

toml::table* place_table(toml::table& root, const TomlPlace& place, bool create) {
    if (!place.array_of_tables) {
        return table_in(root, place.table, place.table.size(), create);
    }
    toml::node* node = node_at(root, place.table);
    toml::array* array = node == nullptr ? nullptr : node->as_array();
    if (array == nullptr || place.element >= array->size()) {
        return nullptr;
    }
    return (*array)[place.element].as_table();
}

void assign_value(toml::table& table, const std::string& key, const WiringValue& value) {
    if (const bool* flag = std::get_if<bool>(&value)) {
        table.insert_or_assign(key, *flag);
    } else if (const auto* text = std::get_if<std::string>(&value)) {
        table.insert_or_assign(key, *text);
    } else {
        toml::array array;
        for (const auto& item : std::get<std::vector<std::string>>(value)) {
            array.push_back(item);
        }
        table.insert_or_assign(key, std::move(array));
    }
}

TomlFound found_value(const toml::node& node) {
    TomlFound found;
    if (const auto* flag = node.as_boolean()) {
        found.value = flag->get();
    } else if (const auto* text = node.as_string()) {
        found.value = text->get();
    } else if (const auto* array = node.as_array();
               array != nullptr && array->is_homogeneous(toml::node_type::string)) {
        std::vector<std::string> items;
        for (const auto& item : *array) {
            items.push_back(item.as_string()->get());
        }
        found.value = items;
    }
    if (found.value) {
        found.text = to_display(*found.value);
    } else {
        std::ostringstream text;
        node.visit([&text](const auto& typed) { text << typed; });
        found.text = text.str();
    }
    return found;
}

// ---- the text ----

struct Header {
    std::vector<std::string> path;
    bool array = false;
    bool commented = false;
};

bool is_bare_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/// The segments of a header's key path (`apim.event_hub`, `"a.b".c`), or nullopt when it is
/// not one (an array value on its own line, say).
std::optional<std::vector<std::string>> parse_key_path(const std::string& name) {
    std::vector<std::string> segments;
    std::size_t i = 0;
    const auto skip_blanks = [&] {
        while (i < name.size() && (name[i] == ' ' || name[i] == '\t')) {
            ++i;
        }
    };
    while (true) {
        skip_blanks();
        if (i >= name.size()) {
            return std::nullopt;
        }
        std::size_t end = i;
        if (name[i] == '"' || name[i] == '\'') {
            end = name.find(name[i], i + 1);
            if (end == std::string::npos) {
                return std::nullopt;
            }
            segments.push_back(name.substr(i + 1, end - i - 1));
            i = end + 1;
        } else {
            while (end < name.size() && is_bare_key_char(name[end])) {
                ++end;
            }
            if (end == i) {
                return std::nullopt;
            }
            segments.push_back(name.substr(i, end - i));
            i = end;
        }
        skip_blanks();
        if (i == name.size()) {
            return segments;
        }
        if (name[i] != '.') {
            return std::nullopt;
        }
        ++i;
    }
}

/// A table header line, active (`[a.b]`, `[[a.b]]`) or commented out (`#[a.b]`).
std::optional<Header> parse_header(const std::string& content) {
    Header header;
    std::string text = without_leading_blanks(content);
    if (!text.empty() && text.front() == '#') {
        header.commented = true;
        text = without_leading_blanks(text.substr(1));
    }
    std::size_t close = std::string::npos;
    std::string name;
    std::string rest;
    if (text.rfind("[[", 0) == 0) {
        header.array = true;
        close = text.find("]]", 2);
        if (close == std::string::npos) {
            return std::nullopt;
        }
        name = text.substr(2, close - 2);
        rest = text.substr(close + 2);
    } else if (text.rfind('[', 0) == 0) {
        close = text.find(']', 1);
        if (close == std::string::npos) {
            return std::nullopt;
        }
        name = text.substr(1, close - 1);
        rest = text.substr(close + 1);
    } else {
        return std::nullopt;
    }
    rest = without_leading_blanks(rest);
    if (!rest.empty() && rest.front() != '#') {
        return std::nullopt;
    }
    auto path = parse_key_path(name);
    if (!path) {
        return std::nullopt;
    }
    header.path = std::move(*path);
    return header;
}

bool is_active_header(const std::string& content) {
    const auto header = parse_header(content);
    return header && !header->commented;
}

/// Where the value of `key = value` starts in an active line, or npos.
std::size_t value_start(const std::string& content, const std::string& key) {
    const auto start = content.find_first_not_of(" \t");
    if (start == std::string::npos || content.compare(start, key.size(), key) != 0) {
        return std::string::npos;
    }
    const std::size_t after = start + key.size();
    if (after < content.size() && content[after] != ' ' && content[after] != '\t' &&
        content[after] != '=') {
        return std::string::npos;  // a longer key that starts alike
    }
    const auto equals = content.find_first_not_of(" \t", after);
    if (equals == std::string::npos || content[equals] != '=') {
        return std::string::npos;
    }
    const auto value = content.find_first_not_of(" \t", equals + 1);
    return value == std::string::npos ? content.size() : value;
}

/// A commented-out line without its '#' (its indentation kept), or nullopt.
std::optional<std::string> uncommented(const std::string& content) {
    const auto hash = content.find_first_not_of(" \t");
    if (hash == std::string::npos || content[hash] != '#') {
        return std::nullopt;
    }
    return content.substr(0, hash) + without_leading_blanks(content.substr(hash + 1));
}

struct TextPos {
    std::size_t line = 0;
    std::size_t column = 0;
};

/// Where the value that starts at `start` ends (one past it): a string, a bool or number, or
/// an array or inline table over several lines. nullopt for a multi-line string or a value
/// that does not end.
std::optional<TextPos> value_end(const std::vector<TextLine>& lines, TextPos start) {
    const std::string& first = lines[start.line].content;
    if (start.column >= first.size()) {
        return std::nullopt;
    }
    const char opening = first[start.column];
    if (opening == '"' || opening == '\'') {
        if (first.compare(start.column, 3, std::string(3, opening)) == 0) {
            return std::nullopt;
        }
        for (std::size_t i = start.column + 1; i < first.size(); ++i) {
            if (opening == '"' && first[i] == '\\') {
                ++i;
            } else if (first[i] == opening) {
                return TextPos{start.line, i + 1};
            }
        }
        return std::nullopt;
    }
    if (opening == '[' || opening == '{') {
        int depth = 0;
        for (std::size_t line = start.line; line < lines.size(); ++line) {
            const std::string& text = lines[line].content;
            char quote = 0;
            for (std::size_t i = line == start.line ? start.column : 0; i < text.size(); ++i) {
                const char c = text[i];
                if (quote != 0) {
                    if (quote == '"' && c == '\\') {
                        ++i;
                    } else if (c == quote) {
                        quote = 0;
                    }
                } else if (c == '"' || c == '\'') {
                    if (text.compare(i, 3, std::string(3, c)) == 0) {
                        return std::nullopt;
                    }
                    quote = c;
                } else if (c == '#') {
                    break;
                } else if (c == '[' || c == '{') {
                    ++depth;
                } else if ((c == ']' || c == '}') && --depth == 0) {
                    return TextPos{line, i + 1};
                }
            }
            if (quote != 0) {
                return std::nullopt;
            }
        }
        return std::nullopt;
    }
    std::size_t end = first.find('#', start.column);
    end = end == std::string::npos ? first.size() : end;
    while (end > start.column && (first[end - 1] == ' ' || first[end - 1] == '\t')) {
        --end;
    }
    return TextPos{start.line, end};
}

/// Replaces [start, end) with `replacement`; a value over several lines becomes one line.
void replace_span(std::vector<TextLine>& lines, TextPos start, TextPos end,
                  const std::string& replacement) {
    TextLine& first = lines[start.line];
    const std::string tail = lines[end.line].content.substr(end.column);
    const std::string eol = lines[end.line].eol;
    first.content = first.content.substr(0, start.column) + replacement + tail;
    first.eol = eol;
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(start.line) + 1,
                lines.begin() + static_cast<std::ptrdiff_t>(end.line) + 1);
}

/// The line of the element-th active header of `path` ([path], or [[path]] for arrays).
std::optional<std::size_t> find_header(const std::vector<TextLine>& lines,
                                       const std::vector<std::string>& path, bool array,
                                       std::size_t element) {
    std::size_t seen = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto header = parse_header(lines[i].content);
        if (header && !header->commented && header->array == array && header->path == path) {
            if (seen == element) {
                return i;
            }
            ++seen;
        }
    }
    return std::nullopt;
}

std::size_t count_headers(const std::vector<TextLine>& lines, const std::vector<std::string>& path,
                          bool array) {
    std::size_t count = 0;
    while (find_header(lines, path, array, count)) {
        ++count;
    }
    return count;
}

/// The first line after `header` that starts another table: where its keys end.
std::size_t section_end(const std::vector<TextLine>& lines, std::size_t header) {
    std::size_t end = header + 1;
    while (end < lines.size() && !is_active_header(lines[end].content)) {
        ++end;
    }
    return end;
}

/// The first header line after `header`, active or commented out: where the commented-out keys
/// that belong to this table end.
std::size_t commented_section_end(const std::vector<TextLine>& lines, std::size_t header,
                                  std::size_t end) {
    for (std::size_t i = header + 1; i < end; ++i) {
        if (parse_header(lines[i].content)) {
            return i;
        }
    }
    return end;
}

/// A commented-out header of `path` with nothing but comments and blank lines up to the next
/// table: uncommenting it moves no active key into it.
std::optional<std::size_t> commented_header(const std::vector<TextLine>& lines,
                                            const std::vector<std::string>& path, bool array) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto header = parse_header(lines[i].content);
        if (!header || !header->commented || header->array != array || header->path != path) {
            continue;
        }
        bool only_comments = true;
        for (std::size_t j = i + 1; j < section_end(lines, i); ++j) {
            only_comments = only_comments && is_blank_or_comment(lines[j].content);
        }
        if (only_comments) {
            return i;
        }
    }
    return std::nullopt;
}

/// The last line of the table at `header` that holds a key (or the header itself).
std::size_t last_key_line(const std::vector<TextLine>& lines, std::size_t header, std::size_t end) {
    std::size_t last = header;
    for (std::size_t i = header + 1; i < end; ++i) {
        if (!is_blank_or_comment(lines[i].content)) {
            last = i;
        }
    }
    return last;
}

std::string leading_blanks(const std::string& content) {
    return content.substr(0, content.size() - without_leading_blanks(content).size());
}

/// Appends `line` at the end, after a blank line.
void append_at_end(std::vector<TextLine>& lines, const std::string& line) {
    if (lines.empty()) {
        lines.push_back({line, "\n"});
        return;
    }
    if (!without_leading_blanks(lines.back().content).empty()) {
        insert_line_after(lines, lines.size() - 1, "");
    }
    insert_line_after(lines, lines.size() - 1, line);
}

std::string describe_node_kind(const toml::node& node) {
    if (node.is_array()) {
        return "an array";
    }
    if (node.is_string()) {
        return "a string";
    }
    if (node.is_boolean()) {
        return "a bool";
    }
    if (node.is_number()) {
        return "a number";
    }
    return "a date or time";
}

/// The table `path` exists in the tree, but not as a [path] section the text can take keys
/// in: written inline or by dotted keys, or not a table. Refused.
void refuse_unwritable_table(const toml::table& tree, const std::vector<std::string>& path,
                             const std::filesystem::path& source) {
    const std::string name = dotted(path);
    const toml::node* node = node_at(const_cast<toml::table&>(tree), path);
    if (node == nullptr) {
        return;
    }
    const toml::table* table = node->as_table();
    if (table == nullptr) {
        refuse_toml_edit(source, "[" + name + "]",
                         name + " is not a table here (it is " + describe_node_kind(*node) +
                             "); restore the table from the pack, or set its keys by hand");
    }
    if (table->is_inline()) {
        refuse_toml_edit(source, "[" + name + "]",
                         "[" + name + "] is written as an inline table (" + path.back() +
                             " = { ... }), which the launcher does not rewrite; write it as a [" +
                             name + "] section, or set its keys by hand");
    }
    for (const auto& [key, value] : *table) {
        if (!value.is_table() && !value.is_array_of_tables()) {
            refuse_toml_edit(source, "[" + name + "]",
                             "[" + name + "] is written with dotted keys (" + path.back() + "." +
                                 std::string(key.str()) +
                                 " = ... in a parent table), which the launcher does not rewrite; "
                                 "write it as a [" +
                                 name + "] section, or set its keys by hand");
        }
    }
}

class Editor {
  public:
    Editor(const std::string& text, const std::filesystem::path& source)
        : source_(source),
          tree_(parse_toml_or_refuse(text, source, "", "the file")),
          lines_(split_lines(text)) {}

    void shape(const TomlArrayShape& shape) {
        const std::string name = "[[" + dotted(shape.table) + "]]";
        const std::size_t present = count_headers(lines_, shape.table, true);
        const toml::node* node = node_at(tree_, shape.table);
        if (node != nullptr && !node->is_array_of_tables()) {
            refuse_toml_edit(source_, name,
                             dotted(shape.table) + " is not written as " + name +
                                 " tables; restore them from the pack, or set the keys by hand");
        }
        if (node != nullptr && node->as_array()->size() != present) {
            refuse_toml_edit(source_, name,
                             name + " is written inline (" + shape.table.back() +
                                 " = [{ ... }]), which the launcher does not rewrite; write each "
                                 "element as a " +
                                 name + " section, or set the keys by hand");
        }
        if (present == shape.count) {
            return;
        }
        if (present != 0 || !shape.create) {
            refuse_toml_edit(
                source_, name,
                name + " appears " + std::to_string(present) + " time" + (present == 1 ? "" : "s") +
                    ", and the wiring needs " + std::to_string(shape.count) + " (" + shape.why +
                    ")" +
                    (present == 0 ? "; restore it from the pack"
                                  : "; remove the extra ones so that one is written per "
                                    "peer") +
                    ", or set \"connect\": false in this instance's profile and wire it "
                    "by hand");
        }
        create_elements(shape);
    }

    void assign(const TomlAssignment& assignment) {
        const TomlPlace& place = assignment.place;
        auto header = find_header(lines_, place.table, place.array_of_tables, place.element);
        if (!header && !place.array_of_tables) {
            create_table(place.table);
            header = find_header(lines_, place.table, false, 0);
        }
        if (!header) {
            refuse_toml_edit(source_, place.describe(),
                             "no " + place.describe() + " to write " + assignment.key +
                                 " into; restore it from the pack");
        }
        const std::string value = to_toml(assignment.value);
        const std::size_t end = section_end(lines_, *header);
        for (std::size_t i = *header + 1; i < end; ++i) {
            const std::size_t start = value_start(lines_[i].content, assignment.key);
            if (start == std::string::npos) {
                continue;
            }
            const auto stop = value_end(lines_, {i, start});
            if (!stop) {
                refuse_toml_edit(source_, place.describe() + " " + assignment.key,
                                 assignment.key +
                                     " holds a multi-line string or a value that does "
                                     "not end; set it by hand");
            }
            replace_span(lines_, {i, start}, *stop, value);
            return;
        }
        for (std::size_t i = *header + 1; i < commented_section_end(lines_, *header, end); ++i) {
            const auto line = uncommented(lines_[i].content);
            const std::size_t start = line ? value_start(*line, assignment.key) : std::string::npos;
            if (start == std::string::npos) {
                continue;
            }
            const std::vector<TextLine> single = {{*line, ""}};
            const auto stop = value_end(single, {0, start});
            if (stop && stop->line == 0) {  // a commented value over several lines: insert anew
                lines_[i].content = line->substr(0, start) + value + line->substr(stop->column);
                return;
            }
        }
        insert_line_after(lines_, last_key_line(lines_, *header, end),
                          leading_blanks(lines_[*header].content) + assignment.key + " = " + value);
    }

    /// The edited text, re-parsed and compared with the original tree with `expected` applied.
    std::string finish(const std::vector<TomlArrayShape>& shapes,
                       const std::vector<TomlAssignment>& assignments) {
        const std::string patched = join_lines(lines_);
        toml::table expected = tree_;
        for (const auto& shape : shapes) {
            toml::node* node = node_at(expected, shape.table);
            if (node == nullptr) {
                toml::table* parent = table_in(expected, shape.table, shape.table.size() - 1, true);
                toml::array elements;
                for (std::size_t i = 0; i < shape.count; ++i) {
                    elements.push_back(toml::table{});
                }
                parent->insert_or_assign(shape.table.back(), std::move(elements));
            }
        }
        for (const auto& assignment : assignments) {
            toml::table* table = place_table(expected, assignment.place, true);
            if (table == nullptr) {
                refuse_toml_edit(source_, assignment.place.describe(),
                                 "the parser does not read " + assignment.place.describe() +
                                     " where the text has it (inside a multi-line string?); set "
                                     "the keys by hand");
            }
            assign_value(*table, assignment.key, assignment.value);
        }
        const toml::table actual = parse_toml_or_refuse(patched, source_, "", "the patched file");
        if (!(expected == actual)) {
            refuse_toml_edit(
                source_, "",
                "the edit did not verify (the re-parsed file differs from the original "
                "in more than the peer settings); set them by hand");
        }
        return patched;
    }

  private:
    void create_elements(const TomlArrayShape& shape) {
        const std::string header = "[[" + dotted(shape.table) + "]]";
        std::size_t count = shape.count;
        if (const auto commented = commented_header(lines_, shape.table, true)) {
            lines_[*commented].content = *uncommented(lines_[*commented].content);
            const std::size_t end =
                commented_section_end(lines_, *commented, section_end(lines_, *commented));
            std::size_t after = *commented;
            for (std::size_t i = *commented + 1; i < end; ++i) {
                if (!without_leading_blanks(lines_[i].content).empty()) {
                    after = i;
                }
            }
            for (std::size_t i = 1; i < count; ++i) {
                insert_line_after(lines_, after, "");
                insert_line_after(lines_, after + 1, header);
                after += 2;
            }
            return;
        }
        for (; count > 0; --count) {
            append_at_end(lines_, header);
        }
    }

    void create_table(const std::vector<std::string>& path) {
        refuse_unwritable_table(tree_, path, source_);
        if (const auto commented = commented_header(lines_, path, false)) {
            lines_[*commented].content = *uncommented(lines_[*commented].content);
            return;
        }
        append_at_end(lines_, "[" + dotted(path) + "]");
    }

    const std::filesystem::path& source_;
    toml::table tree_;
    std::vector<TextLine> lines_;
};

}  // namespace toml_edit_detail
}  // namespace

std::string TomlPlace::describe() const {
    const std::string name = toml_edit_detail::dotted(table);
    if (!array_of_tables) {
        return "[" + name + "]";
    }
    return "[[" + name + "]] #" + std::to_string(element + 1);
}

std::vector<std::string> split_toml_path(const std::string& dotted) {
    std::vector<std::string> path;
    std::size_t start = 0;
    while (true) {
        const auto dot = dotted.find('.', start);
        path.push_back(dotted.substr(start, dot == std::string::npos ? dotted.npos : dot - start));
        if (dot == std::string::npos) {
            return path;
        }
        start = dot + 1;
    }
}

struct TomlDocument::Tree {
    toml::table root;
};

TomlDocument::TomlDocument(const std::string& text, const std::filesystem::path& source)
    : tree_(std::make_unique<Tree>()) {
    try {
        tree_->root = toml::parse(text, source.string());
    } catch (const toml::parse_error& e) {
        throw ConfigError(source, "",
                          "TOML syntax error at line " + std::to_string(e.source().begin.line) +
                              ", column " + std::to_string(e.source().begin.column) + ": " +
                              std::string(e.description()) + "; fix the file");
    }
}

TomlDocument::~TomlDocument() = default;
TomlDocument::TomlDocument(TomlDocument&&) noexcept = default;
TomlDocument& TomlDocument::operator=(TomlDocument&&) noexcept = default;

std::optional<TomlFound> TomlDocument::find(const TomlPlace& place, const std::string& key) const {
    toml::table* table = toml_edit_detail::place_table(tree_->root, place, false);
    const toml::node* node = table == nullptr ? nullptr : table->get(key);
    if (node == nullptr) {
        return std::nullopt;
    }
    return toml_edit_detail::found_value(*node);
}

std::size_t TomlDocument::array_size(const std::vector<std::string>& table) const {
    const toml::node* node = toml_edit_detail::node_at(tree_->root, table);
    return node != nullptr && node->is_array_of_tables() ? node->as_array()->size() : 0;
}

bool TomlDocument::has_table(const std::vector<std::string>& table) const {
    const toml::node* node = toml_edit_detail::node_at(tree_->root, table);
    return node != nullptr && (node->is_table() || node->is_array_of_tables());
}

std::string apply_toml_assignments(const std::string& text,
                                   const std::vector<TomlArrayShape>& shapes,
                                   const std::vector<TomlAssignment>& assignments,
                                   const std::filesystem::path& source) {
    if (text.find('\0') != std::string::npos) {
        refuse_toml_edit(source, "", "the file holds binary data (a NUL byte), not TOML");
    }
    toml_edit_detail::Editor editor(text, source);
    for (const auto& shape : shapes) {
        editor.shape(shape);
    }
    for (const auto& assignment : assignments) {
        editor.assign(assignment);
    }
    return editor.finish(shapes, assignments);
}

}  // namespace carbon
