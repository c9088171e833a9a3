#include <cstdlib>

#include "paths.hpp"

namespace carbon {

std::filesystem::path executable_path() {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/exe", ec);
}

std::filesystem::path default_profiles_dir() {
    return "/etc/carbon-launcher/profiles";
}
std::filesystem::path default_socket_path() {
    return "/run/carbon-launcher/control.sock";
}

std::filesystem::path default_state_dir() {
    return "/var/lib/carbon-launcher";
}

std::filesystem::path find_runtimes_dir(const std::string& override_dir) {
    if (!override_dir.empty()) {
        return override_dir;
    }
    if (const char* env = std::getenv("CARBON_LAUNCHER_RUNTIMES"); env != nullptr && *env != '\0') {
        return env;
    }
    return executable_path().parent_path().parent_path() / "share" / "carbon-launcher" / "runtimes";
}

}  // namespace carbon
