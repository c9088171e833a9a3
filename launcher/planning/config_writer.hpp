#pragma once

#include <filesystem>
#include <string>

#include "config_patch.hpp"

namespace carbon {

/// Reads a config file that is about to be patched, refusing what should not be touched: a
/// symlink (it may be shared by several homes), anything but a regular file, a read-only file,
/// a file over kMaxConfigBytes, a binary file. Throws ConfigError naming the file.
std::string read_config_for_patch(const std::filesystem::path& file);

/// Writes a patched config: the first time, a backup of the original as
/// FILE.carbon-launcher.orig (never overwritten afterwards), then an atomic replace.
void write_patched_config(const std::filesystem::path& file, const std::string& original,
                          const std::string& patched);

std::filesystem::path backup_path(const std::filesystem::path& file);

}  // namespace carbon
