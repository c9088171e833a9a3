#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace carbon {

/// The pid in a runtime's pid file (API-M pads it with NUL bytes), if the file exists and a
/// live process with that pid mentions `home` on its command line (a stale pid file whose pid
/// was reused by something else does not count).
std::optional<int> live_runtime_pid(const std::filesystem::path& pid_file,
                                    const std::filesystem::path& home);

}  // namespace carbon
