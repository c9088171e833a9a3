#pragma once

#include <string>
#include <vector>

namespace carbon {

/// `text` without its leading spaces and tabs.
std::string without_leading_blanks(const std::string& text);

/// A line of a text file with its own terminator ("\n", "\r\n" or "" on a last line without
/// one), so that joining the lines gives back the file byte for byte.
struct TextLine {
    std::string content;
    std::string eol;
};

std::vector<TextLine> split_lines(const std::string& text);
std::string join_lines(const std::vector<TextLine>& lines);

/// The terminator most lines of the file use ("\n" when it has none).
std::string dominant_eol(const std::vector<TextLine>& lines);

/// Inserts a line after line `after`, with the file's own line ending. After a last line that
/// had no newline, that line gets one and the inserted line goes without, as the file did.
void insert_line_after(std::vector<TextLine>& lines, std::size_t after, std::string content);

/// "line N" for the 0-based index of a line, as messages name it.
std::string at_line(std::size_t index);

/// Number of leading spaces; -1 when the indentation contains a tab.
int indentation(const std::string& line);

/// True for blank lines and lines whose first non-space character is '#'.
bool is_blank_or_comment(const std::string& line);

/// A unified diff (3 lines of context) between two texts, labelled with `path`; "" when equal.
std::string unified_diff(const std::string& before, const std::string& after,
                         const std::string& path);

/// The last `lines` lines of `text` (all of it when it has fewer).
std::string last_lines(const std::string& text, int lines);

}  // namespace carbon
