#pragma once

#include <filesystem>
#include <string>

namespace carbon {

/// Replaces `path` with `content` so that a crash at any moment leaves either the old or the
/// new file: temp file in the same directory, fsync, the original's mode and owner, rename,
/// fsync of the directory. Throws std::system_error naming the path on failure, after removing
/// the temp file. Mode and owner come from `like` when given (a backup takes its original's).
/// Durability::ProcessCrash skips the fsyncs: the rename still makes the write all-or-nothing
/// for a crash of this process, which is all that runtime bookkeeping needs, at a fraction of
/// the cost (it sits on the restart path).
enum class Durability { PowerLoss, ProcessCrash };
void write_file_atomically(const std::filesystem::path& path, const std::string& content,
                           const std::filesystem::path& like = {},
                           Durability durability = Durability::PowerLoss);

/// The name every temp file of `path` starts with: ".NAME.carbon-launcher-tmp.".
std::string atomic_temp_prefix(const std::filesystem::path& path);

/// Removes temp files that an earlier write_file_atomically left behind when it was killed.
void remove_stale_temp_files(const std::filesystem::path& path);

}  // namespace carbon
