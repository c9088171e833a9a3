// The host's listening TCP ports on Windows, with their owning pids, from the IP Helper API's
// TCP tables (IPv4 and IPv6): the same facts /proc/net/tcp gives on Linux.
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <iphlpapi.h>
// clang-format on

#include <vector>

#include "os/host_ports.hpp"
#include "os/windows_text.hpp"

namespace carbon {
namespace {

/// One of GetExtendedTcpTable's tables, grown until it fits.
std::vector<char> tcp_table(ULONG family) {
    std::vector<char> buffer(64 * 1024);
    for (int attempt = 0; attempt < 4; ++attempt) {
        auto size = static_cast<DWORD>(buffer.size());
        const DWORD result = ::GetExtendedTcpTable(buffer.data(), &size, FALSE, family,
                                                   TCP_TABLE_OWNER_PID_LISTENER, 0);
        if (result == NO_ERROR) {
            return buffer;
        }
        if (result != ERROR_INSUFFICIENT_BUFFER) {
            break;
        }
        buffer.resize(size + 4096);
    }
    return {};
}

/// Listening port -> owning pid, for both address families.
std::map<int, std::uint64_t> listeners() {
    std::map<int, std::uint64_t> held;
    if (const auto v4 = tcp_table(AF_INET); !v4.empty()) {
        const auto* table = reinterpret_cast<const MIB_TCPTABLE_OWNER_PID*>(v4.data());
        for (DWORD i = 0; i < table->dwNumEntries; ++i) {
            held.emplace(ntohs(static_cast<u_short>(table->table[i].dwLocalPort)),
                         table->table[i].dwOwningPid);
        }
    }
    if (const auto v6 = tcp_table(AF_INET6); !v6.empty()) {
        const auto* table = reinterpret_cast<const MIB_TCP6TABLE_OWNER_PID*>(v6.data());
        for (DWORD i = 0; i < table->dwNumEntries; ++i) {
            held.emplace(ntohs(static_cast<u_short>(table->table[i].dwLocalPort)),
                         table->table[i].dwOwningPid);
        }
    }
    return held;
}

std::string program_of(DWORD pid) {
    HANDLE process = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (process == nullptr) {
        return "";
    }
    std::wstring image(MAX_PATH * 4, L'\0');
    auto size = static_cast<DWORD>(image.size());
    const bool found = ::QueryFullProcessImageNameW(process, 0, image.data(), &size);
    ::CloseHandle(process);
    return found ? std::filesystem::path(image.substr(0, size)).filename().string() : "";
}

}  // namespace

HostPorts::HostPorts() : held_(listeners()) {}

bool HostPorts::is_held(int port) const {
    return held_.count(port) != 0;
}

PortHolder HostPorts::holder(int port) const {
    const auto it = held_.find(port);
    if (it == held_.end() || it->second == 0) {
        return {};
    }
    const auto pid = static_cast<DWORD>(it->second);
    return {static_cast<int>(pid), program_of(pid)};
}

}  // namespace carbon
