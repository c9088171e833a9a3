#include "text_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace carbon {

std::optional<std::string> read_text_file(const std::filesystem::path& path, std::string& error) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
        error = "file not found";
        return std::nullopt;
    }
    if (std::filesystem::is_directory(status)) {
        error = "is a directory, expected a file";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = std::string("cannot be read: ") + std::strerror(errno);
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        error = "read failed part way";
        return std::nullopt;
    }
    return text.str();
}

}  // namespace carbon
