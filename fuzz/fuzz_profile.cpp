// Any bytes as a profile, an offsets.json or an instance record: each is refused with
// diagnostics or a ConfigError naming the file, or accepted; nothing else may escape, nothing
// may crash (deep nesting, huge numbers, duplicate keys, control characters, invalid UTF-8).
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "diagnostics.hpp"
#include "instance_record.hpp"
#include "offset_state.hpp"
#include "profile.hpp"

namespace {

const carbon::RuntimeCatalog& catalog() {
    static const carbon::RuntimeCatalog tables = carbon::RuntimeCatalog::load(
        std::filesystem::path(CARBON_SOURCE_DIR) / "profiles" / "runtimes");
    return tables;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::filesystem::path source = "/nonexistent/profiles/fuzz.json";
    for (const auto platform : {carbon::Platform::Linux, carbon::Platform::Windows}) {
        std::vector<carbon::Diagnostic> diagnostics;
        const carbon::Profile profile =
            carbon::parse_profile(text, source, catalog(), platform, diagnostics);
        for (const auto& d : diagnostics) {
            if (d.file != source || d.message.empty()) {
                std::abort();
            }
        }
        if (diagnostics.empty() && profile.name.empty()) {
            std::abort();  // a profile accepted without its required name
        }
    }
    try {
        const auto offsets = carbon::parse_sticky_offsets(text, "offsets.json");
        if (carbon::parse_sticky_offsets(carbon::render_sticky_offsets(offsets), "o.json") !=
            offsets) {
            std::abort();
        }
    } catch (const carbon::ConfigError&) {
    }
    try {
        const auto record = carbon::parse_instance_record(text, "record.json");
        if (record.pid <= 0 || record.pgid <= 0) {
            std::abort();
        }
    } catch (const carbon::ConfigError&) {
    }
    return 0;
}
