#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "port_table.hpp"

namespace carbon {

/// The largest config file the launcher reads or patches; a bigger one is not a hand-kept config.
inline constexpr std::uintmax_t kMaxConfigBytes = 4 * 1024 * 1024;

/// Pure text transforms that set a port offset in a runtime's config file. Each changes only
/// the bytes it must (one line changed, or one inserted where the key was absent), re-parses
/// the result with a real parser and compares it with the original tree: a patch that does
/// not verify is refused. They throw ConfigError naming `source`, and never return a partial
/// edit. When the value is already right the text comes back unchanged.

/// SI / SI Tooling: `wso2.carbon.ports.offset` in conf/server/deployment.yaml. Refuses
/// ambiguous structure: duplicate keys, flow style, tabs in indentation, anchors or aliases,
/// and a placeholder value (`${...}`) unless `force`.
std::string patch_si_offset(const std::string& text, int offset,
                            const std::filesystem::path& source, bool force = false);

/// API-M: `offset` in `[server]` of repository/conf/deployment.toml: replaces the key, else
/// uncomments the shipped `#offset=0`, else inserts it after the `[server]` header.
std::string patch_toml_server_offset(const std::string& text, int offset,
                                     const std::filesystem::path& source);

/// API-M: moves the URLs written literally in deployment.toml that the offset does not move
/// (ws_endpoint, wss_endpoint, websub_*_endpoint) to base + offset. A URL whose port is below
/// the table's base is the operator's own choice and is left alone.
/// An advertised URL as it should read at `offset`: its literal port moved to base + offset.
/// A URL without a literal port, or whose port is below the base (the operator's own choice,
/// e.g. a load balancer), comes back unchanged.
std::string moved_url(const std::string& url, int base, int offset);

std::string patch_advertised_urls(const std::string& text, const RuntimeTable& table, int offset,
                                  const std::filesystem::path& source);

}  // namespace carbon

namespace carbon {

struct Profile;

/// The config file `apply` edits for this instance, or "" when it needs none (API-M with the
/// argument method and no advertised-URL update).
std::filesystem::path patched_config_file(const Profile& profile);

/// Every edit this instance's config file needs at `offset`, applied to `text` in turn.
std::string patch_instance_config(const Profile& profile, int offset, const std::string& text,
                                  bool force);

}  // namespace carbon
