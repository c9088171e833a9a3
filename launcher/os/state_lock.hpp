#pragma once

#include <filesystem>
#include <optional>

namespace carbon {

/// One launcher per state dir: a second one would start every instance twice. Locks
/// STATE/launcher.lock for the rest of the process's life (the OS drops the lock when the
/// process dies, however it dies) and writes the pid into it. Returns the pid of the launcher
/// that holds it already, or nullopt once this process holds it.
std::optional<int> lock_state_dir(const std::filesystem::path& state_dir);

}  // namespace carbon
