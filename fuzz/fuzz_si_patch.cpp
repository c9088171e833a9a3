// Any text, any offset: patch_si_offset either refuses with ConfigError or returns a text that
// re-parses to the requested offset and that a second patch leaves unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config_patch.hpp"
#include "diagnostics.hpp"
#include "yaml_ports.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const int offset = data[0] | ((data[1] & 0x7f) << 8);
    const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);
    const bool force = (data[1] & 0x80) != 0;
    std::string patched;
    try {
        patched = carbon::patch_si_offset(text, offset, "fuzz.yaml", force);
    } catch (const carbon::ConfigError&) {
        return 0;  // a refusal is a correct answer
    }
    const auto value = carbon::read_yaml_scalar(patched, "wso2.carbon/ports/offset", "fuzz.yaml");
    if (!value || std::stoll(*value) != offset) {
        std::abort();
    }
    if (carbon::patch_si_offset(patched, offset, "fuzz.yaml", force) != patched) {
        std::abort();
    }
    return 0;
}
