#pragma once

#include "toml_parser.hpp"

#include <filesystem>
#include <string>

namespace carbon {

/// Every TOML patcher's refusal: a ConfigError naming the file and the setting, saying that
/// nothing was written.
[[noreturn]] void refuse_toml_edit(const std::filesystem::path& source, const std::string& setting,
                                   const std::string& message);

/// `text` parsed with toml++, or a refusal saying which line of `what` ("the file", "the
/// patched file") is not valid TOML.
toml::table parse_toml_or_refuse(const std::string& text, const std::filesystem::path& source,
                                 const std::string& setting, const std::string& what);

}  // namespace carbon
