#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace carbon {

/// Sticky offsets: what each auto instance got last time, so a restart keeps its ports.
using StickyOffsets = std::map<std::string, int>;

/// Parses offsets.json; throws ConfigError naming `source` and the bad entry.
StickyOffsets parse_sticky_offsets(const std::string& text, const std::filesystem::path& source);
std::string render_sticky_offsets(const StickyOffsets& offsets);

}  // namespace carbon
