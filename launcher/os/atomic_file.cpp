#include "os/atomic_file.hpp"

namespace carbon {

std::string atomic_temp_prefix(const std::filesystem::path& path) {
    return "." + path.filename().string() + ".carbon-launcher-tmp.";
}

void remove_stale_temp_files(const std::filesystem::path& path) {
    const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
    const std::string prefix = atomic_temp_prefix(path);
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().filename().string().rfind(prefix, 0) == 0) {
            std::filesystem::remove(entry.path(), ec);
        }
    }
}

}  // namespace carbon
