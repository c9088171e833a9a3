// Any text, any offset: the API-M patchers refuse with ConfigError or return a text whose
// [server] offset re-parses to the requested value, unchanged by a second patch.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config_inspect.hpp"
#include "config_patch.hpp"
#include "diagnostics.hpp"
#include "port_table.hpp"

namespace {

carbon::RuntimeTable advertised_table() {
    carbon::RuntimeTable table;
    table.ports = {{"ws", 9099, "ws", true, true, false, "", ""},
                   {"wss", 8099, "wss", true, true, false, "", ""}};
    table.advertised_urls = {{"ws_endpoint", "ws"}, {"wss_endpoint", "wss"}};
    return table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const int offset = data[0] | ((data[1] & 0x7f) << 8);
    const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);
    try {
        const std::string patched = carbon::patch_toml_server_offset(text, offset, "fuzz.toml");
        if (carbon::read_toml_server_offset(patched, "fuzz.toml") != offset ||
            carbon::patch_toml_server_offset(patched, offset, "fuzz.toml") != patched) {
            std::abort();
        }
    } catch (const carbon::ConfigError&) {
    }
    static const carbon::RuntimeTable table = advertised_table();
    try {
        const std::string moved = carbon::patch_advertised_urls(text, table, offset, "fuzz.toml");
        if (carbon::patch_advertised_urls(moved, table, offset, "fuzz.toml") != moved) {
            std::abort();
        }
    } catch (const carbon::ConfigError&) {
    }
    return 0;
}
