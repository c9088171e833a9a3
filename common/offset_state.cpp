#include "offset_state.hpp"

#include <nlohmann/json.hpp>

#include "diagnostics.hpp"
#include "json_reader.hpp"

namespace carbon {

static constexpr int kStateVersion = 1;

StickyOffsets parse_sticky_offsets(const std::string& text, const std::filesystem::path& source) {
    std::vector<Diagnostic> diagnostics;
    const nlohmann::json root = parse_jsonc(text, source, diagnostics);
    if (!diagnostics.empty()) {
        diagnostics.back().message += " (delete the file to forget the previous offsets)";
        throw ConfigError(diagnostics);
    }
    const auto fail = [&](const std::string& pointer, const std::string& what) {
        throw ConfigError(source, pointer,
                          what +
                              "; the file is written by carbon-launcher: delete it to forget "
                              "the previous offsets");
    };
    if (!root.is_object() || !root.contains("offsets") || !root["offsets"].is_object()) {
        fail("/offsets", "expected an object of instance: offset");
    }
    if (!root.contains("version") ||
        integer_within(root["version"], kStateVersion, kStateVersion) == std::nullopt) {
        fail("/version", "unsupported state version");
    }
    StickyOffsets offsets;
    for (const auto& [name, value] : root["offsets"].items()) {
        const auto offset = integer_within(value, 0, 65535);
        if (!offset) {
            fail("/offsets/" + json_pointer_token(name), "expected an offset from 0 to 65535");
        }
        offsets[name] = static_cast<int>(*offset);
    }
    return offsets;
}

std::string render_sticky_offsets(const StickyOffsets& offsets) {
    nlohmann::json root = {{"version", kStateVersion}, {"offsets", nlohmann::json::object()}};
    for (const auto& [name, offset] : offsets) {
        root["offsets"][name] = offset;
    }
    return root.dump(2) + "\n";
}

}  // namespace carbon
