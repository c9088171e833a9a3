#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "profile.hpp"

namespace carbon {

/// One setting the launcher writes into a runtime's config file before a start.
struct ConfigEdit {
    std::filesystem::path file;
    std::string setting;                 // e.g. "wso2.carbon.ports.offset" or "[server] offset"
    std::optional<std::string> current;  // empty: the key is absent (shipped commented out)
    std::string wanted;
    bool needed() const { return current != wanted; }
};

/// What the config files of one instance say about its offset.
struct ConfigReview {
    std::vector<ConfigEdit> edits;
    std::vector<std::string> warnings;
};

/// Reads (never writes) the instance's config file and says what `apply` would change and what
/// the operator should know: an offset in deployment.toml that -DportOffset overrides, URLs
/// written literally in the file that the offset does not move.
ConfigReview review_config(const Profile& profile, int offset);

/// The value of `[server] offset` in API-M TOML text, if set. Throws ConfigError on bad TOML.
std::optional<long long> read_toml_server_offset(const std::string& toml_text,
                                                 const std::filesystem::path& source);

/// Every advertised-URL key (any table) whose literal URL does not point where `offset` puts the
/// port (moved_url's rule): "key = value" strings for warnings. Throws ConfigError on bad TOML.
std::vector<std::string> stale_advertised_urls(const std::string& toml_text, int offset,
                                               const RuntimeTable& table,
                                               const std::filesystem::path& source);

}  // namespace carbon
