#pragma once

#include <filesystem>
#include <string>

namespace carbon {

std::filesystem::path executable_path();
std::filesystem::path default_profiles_dir();
std::filesystem::path default_state_dir();
std::filesystem::path default_socket_path();

/// The port tables: --runtimes, else $CARBON_LAUNCHER_RUNTIMES, else beside the binary
/// (<prefix>/share/carbon-launcher/runtimes, which is also the build tree's layout).
std::filesystem::path find_runtimes_dir(const std::string& override_dir);

}  // namespace carbon
