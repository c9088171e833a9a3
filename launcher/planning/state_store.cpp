#include "planning/state_store.hpp"

#include "diagnostics.hpp"
#include "os/atomic_file.hpp"
#include "text_file.hpp"

namespace carbon {

static std::filesystem::path offsets_file(const std::filesystem::path& state_dir) {
    return state_dir / "offsets.json";
}

StickyOffsets load_sticky_offsets(const std::filesystem::path& state_dir) {
    const auto file = offsets_file(state_dir);
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
        return {};
    }
    std::string error;
    const auto text = read_text_file(file, error);
    if (!text) {
        // A FIFO or device there is refused at once (read_text_file never waits on one).
        const bool permissions = error.rfind("cannot be read", 0) == 0;
        throw ConfigError(file, "",
                          error + (permissions ? "; check the permissions of the state directory "
                                                 "or pass --state-dir DIR"
                                               : ""));
    }
    return parse_sticky_offsets(*text, file);
}

void save_sticky_offsets(const std::filesystem::path& state_dir, const Plan& plan) {
    StickyOffsets offsets = load_sticky_offsets(state_dir);
    for (const auto& instance : plan.instances) {
        if (!instance.placed) {
            continue;
        }
        if (instance.source == OffsetSource::Explicit) {
            offsets.erase(instance.profile->name);
        } else {
            offsets[instance.profile->name] = instance.offset;
        }
    }
    std::filesystem::create_directories(state_dir);
    write_file_atomically(offsets_file(state_dir), render_sticky_offsets(offsets));
}

}  // namespace carbon
