#include "os/paths.hpp"

#include <cstdlib>

namespace carbon {

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
