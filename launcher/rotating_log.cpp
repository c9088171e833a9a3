#include "rotating_log.hpp"

namespace carbon {

void shift_rotated_files(const std::filesystem::path& file, int max_files) {
    std::error_code ec;
    const auto numbered = [&](int n) {
        return std::filesystem::path(file.string() + "." + std::to_string(n));
    };
    std::filesystem::remove(numbered(max_files - 1), ec);
    for (int n = max_files - 2; n >= 1; --n) {
        std::filesystem::rename(numbered(n), numbered(n + 1), ec);
    }
    if (max_files > 1) {
        std::filesystem::rename(file, numbered(1), ec);
    } else {
        std::filesystem::remove(file, ec);
    }
}

}  // namespace carbon
