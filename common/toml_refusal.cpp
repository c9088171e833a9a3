#include "toml_refusal.hpp"

#include "diagnostics.hpp"

namespace carbon {

void refuse_toml_edit(const std::filesystem::path& source, const std::string& setting,
                      const std::string& message) {
    throw ConfigError(source, setting, message + "; nothing was written");
}

toml::table parse_toml_or_refuse(const std::string& text, const std::filesystem::path& source,
                                 const std::string& setting, const std::string& what) {
    try {
        return toml::parse(text);
    } catch (const toml::parse_error& e) {
        refuse_toml_edit(source, setting,
                         what + " is not valid TOML (line " +
                             std::to_string(e.source().begin.line) + ": " +
                             std::string(e.description()) + ")");
    }
}

}  // namespace carbon
