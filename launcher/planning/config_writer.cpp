#include "planning/config_writer.hpp"

#include "diagnostics.hpp"
#include "os/atomic_file.hpp"
#include "text_file.hpp"

namespace carbon {

std::filesystem::path backup_path(const std::filesystem::path& file) {
    return file.string() + ".carbon-launcher.orig";
}

std::string read_config_for_patch(const std::filesystem::path& file) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status link = fs::symlink_status(file, ec);
    if (ec || !fs::exists(link)) {
        throw ConfigError(file, "",
                          "file not found; the runtime needs it: restore it from the pack");
    }
    if (fs::is_symlink(link)) {
        throw ConfigError(file, "",
                          "is a symbolic link (to " + fs::read_symlink(file, ec).string() +
                              "); it may be shared by several homes, so the launcher "
                              "does not patch through it: replace the link with a copy");
    }
    if (!fs::is_regular_file(link)) {
        throw ConfigError(file, "", "is not a regular file; restore the config file from the pack");
    }
    if ((link.permissions() & fs::perms::owner_write) == fs::perms::none) {
        throw ConfigError(file, "",
                          "is read-only; make it writable (chmod u+w) to let the launcher "
                          "set the offset, or set it by hand");
    }
    const auto size = fs::file_size(file, ec);
    if (!ec && size > kMaxConfigBytes) {
        throw ConfigError(file, "",
                          "is " + std::to_string(size) + " bytes, more than the " +
                              std::to_string(kMaxConfigBytes) +
                              " a config file may have; check that it is the right file");
    }
    std::string error;
    auto text = read_text_file(file, error);
    if (!text) {
        throw ConfigError(file, "", error);
    }
    if (text->find('\0') != std::string::npos) {
        throw ConfigError(file, "",
                          "holds binary data (a NUL byte), not a config file; restore it "
                          "from the pack");
    }
    return std::move(*text);
}

void write_patched_config(const std::filesystem::path& file, const std::string& original,
                          const std::string& patched) {
    std::error_code ec;
    const auto backup = backup_path(file);
    if (!std::filesystem::exists(backup, ec)) {
        write_file_atomically(backup, original, file);
    }
    remove_stale_temp_files(file);
    write_file_atomically(file, patched);
}

}  // namespace carbon
