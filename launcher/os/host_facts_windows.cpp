#include <windows.h>

#include "os/host_facts.hpp"

namespace carbon {

std::optional<PortRange> read_ephemeral_range() {
    return std::nullopt;  // not read on Windows (see the finding check prints)
}

std::vector<PortRange> read_reserved_ports() {
    return {};
}

void read_platform_host_facts(HostFacts& facts) {
    MEMORYSTATUSEX status{};
    status.dwLength = sizeof status;
    if (GlobalMemoryStatusEx(&status)) {
        facts.mem_total = status.ullTotalPhys;
        facts.mem_available = status.ullAvailPhys;
    }
}

std::string run_java_version(const std::filesystem::path& java, std::string& error) {
    // Every JDK since 7 has a release file; running java.exe here is not worth a second
    // spawning path on Windows.
    error = "no release file beside " + java.string();
    return {};
}

std::string filesystem_of(const std::filesystem::path& path) {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(path, ec);
    return ec ? std::string() : absolute.root_name().string();
}

}  // namespace carbon
