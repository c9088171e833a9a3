#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace carbon {

/// The whole file as bytes, or nullopt with `error` set to a sentence saying why not. Only a
/// regular file is read: a FIFO, socket or device is refused at once, never waited on.
std::optional<std::string> read_text_file(const std::filesystem::path& path, std::string& error);

}  // namespace carbon
