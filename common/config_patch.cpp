#include "config_patch.hpp"

#include "profile.hpp"

namespace carbon {

std::filesystem::path patched_config_file(const Profile& profile) {
    if (profile.table == nullptr || profile.table->config_file.empty()) {
        return {};
    }
    const bool yaml = profile.table->family == RuntimeFamily::Carbon5;
    const bool edits_toml =
        profile.offset_method == OffsetMethod::Config || profile.update_advertised_urls;
    if (!yaml && !edits_toml) {
        return {};
    }
    return profile.home / profile.table->config_file;
}

std::string patch_instance_config(const Profile& profile, int offset, const std::string& text,
                                  bool force) {
    const auto file = patched_config_file(profile);
    if (file.empty()) {
        return text;
    }
    if (profile.table->family == RuntimeFamily::Carbon5) {
        return patch_si_offset(text, offset, file, force);
    }
    std::string patched = text;
    if (profile.offset_method == OffsetMethod::Config) {
        patched = patch_toml_server_offset(patched, offset, file);
    }
    if (profile.update_advertised_urls) {
        patched = patch_advertised_urls(patched, *profile.table, offset, file);
    }
    return patched;
}

}  // namespace carbon
