// The host's facts on Windows. The dynamic (ephemeral) port range and the excluded port ranges
// have no documented API: they come from system32's netsh.exe, the tool operators use, run
// bounded in time and parsed by common/ (labels are localized; the numbers are read).
//
// CreateProcessW rather than Boost.Process: the handle list keeps the pipe's write end out of
// any other child the supervisor starts meanwhile (else netsh's end of the pipe could outlive
// it), and Boost 1.81's creation-flags initializer sets the wrong field for CREATE_NO_WINDOW.
#include <windows.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "os/host_facts.hpp"
#include "os/windows_process.hpp"
#include "os/windows_text.hpp"
#include "text_file.hpp"

namespace carbon {
namespace {

constexpr auto kNetshTimeout = std::chrono::seconds(5);
// `check` plans (reading the ranges for the planner) and then reads the host's facts: one run
// of each netsh command serves both. Short, so that a long-running launcher's reload sees a
// changed range.
constexpr auto kNetshReadingLifetime = std::chrono::seconds(10);
constexpr std::size_t kNetshOutputLimit = 64 * 1024;

constexpr const wchar_t* kDynamicPortsCommand = L"int ipv4 show dynamicport tcp";
constexpr const wchar_t* kExcludedPortsCommand = L"int ipv4 show excludedportrange protocol=tcp";

struct NetshHandleCloser {
    void operator()(HANDLE handle) const {
        if (handle != nullptr && handle != INVALID_HANDLE_VALUE) {
            ::CloseHandle(handle);
        }
    }
};
using NetshHandle = std::unique_ptr<void, NetshHandleCloser>;

/// What one netsh command printed, or why it could not be run or read.
struct NetshOutput {
    std::string text;
    std::string error;
};

/// Both port facts, each with why it is missing.
struct NetshPortFacts {
    std::optional<PortRange> dynamic;
    std::string dynamic_error;
    std::optional<std::vector<ExcludedPortRange>> excluded;
    std::string excluded_error;
};

std::string netsh_command_text(const wchar_t* arguments) {
    return "netsh " + narrow(arguments);
}

/// The first line that has text, as printable ASCII (netsh prints in the console's code page,
/// and findings end up in JSON), for saying what was printed instead.
std::string netsh_excerpt(const std::string& text) {
    std::string line;
    for (const char c : text) {
        if (c == '\n' && !line.empty()) {
            break;
        }
        if (c >= ' ' && c <= '~') {
            line += c;
        } else if (c != '\r' && c != '\n') {
            line += '?';
        }
    }
    return line.size() > 100 ? line.substr(0, 100) + "..." : line;
}

/// Why a command's output was not read: "netsh ... printed no X (\"its first line\")".
std::string netsh_unreadable(const wchar_t* arguments, const std::string& text,
                             const std::string& missing) {
    const auto excerpt = netsh_excerpt(text);
    return netsh_command_text(arguments) + " printed " +
           (excerpt.empty() ? "nothing" : missing + " (\"" + excerpt + "\")");
}

/// Waits for the child to exit (killed when the time is up), then reads what it wrote. No reading
/// while it runs: the pipe holds kNetshOutputLimit bytes, far more than netsh prints, so it never
/// blocks on a full pipe; one that prints more is reported as not finishing.
NetshOutput collect_netsh_output(HANDLE process, HANDLE pipe, const std::string& program) {
    NetshOutput output;
    const auto timeout_ms = static_cast<DWORD>(
        std::chrono::duration_cast<std::chrono::milliseconds>(kNetshTimeout).count());
    if (::WaitForSingleObject(process, timeout_ms) != WAIT_OBJECT_0) {
        ::TerminateProcess(process, 1);
        ::WaitForSingleObject(process, 1000);
        output.error = program + " did not finish within 5 s";
        return output;
    }
    DWORD available = 0;
    while (::PeekNamedPipe(pipe, nullptr, 0, nullptr, &available, nullptr) && available > 0 &&
           output.text.size() < kNetshOutputLimit) {
        char buffer[4096];
        DWORD got = 0;
        if (!::ReadFile(pipe, buffer, std::min<DWORD>(available, DWORD{sizeof buffer}), &got,
                        nullptr) ||
            got == 0) {
            break;
        }
        output.text.append(buffer, got);
    }
    DWORD code = 0;
    if (::GetExitCodeProcess(process, &code) && code != 0) {
        output.error = program + " exited with code " + std::to_string(code) +
                       (output.text.empty() ? "" : ": " + netsh_excerpt(output.text));
    }
    return output;
}

/// Why netsh did not start: its preparation (NUL, the attribute list) failed, or its run.
std::string netsh_start_error(const std::wstring& netsh, const RedirectedProcess& start) {
    const bool preparing = start.failed_step == RedirectedStartStep::OpenNullInput ||
                           start.failed_step == RedirectedStartStep::PrepareHandleList;
    return (preparing ? "cannot prepare its start: " : "cannot run " + narrow(netsh) + ": ") +
           windows_error_text(start.error);
}

/// Starts system32's netsh.exe with `arguments`: no window, stdin from NUL, stdout and stderr
/// into `output` (the only handles it inherits). The process handle, or an error.
NetshHandle start_netsh(const std::wstring& netsh, const wchar_t* arguments, HANDLE output,
                        std::string& error) {
    std::wstring command_line = L"\"" + netsh + L"\" " + arguments;
    const auto start = create_redirected_process(netsh.c_str(), command_line, CREATE_NO_WINDOW,
                                                 nullptr, nullptr, output);
    if (!start.started) {
        error = netsh_start_error(netsh, start);
        return nullptr;
    }
    ::CloseHandle(start.info.hThread);
    return NetshHandle(start.info.hProcess);
}

NetshOutput run_netsh(const wchar_t* arguments) {
    wchar_t system_dir[MAX_PATH];
    const UINT length = ::GetSystemDirectoryW(system_dir, MAX_PATH);
    if (length == 0 || length >= MAX_PATH) {
        return {"", "the system folder is unknown"};
    }
    const std::wstring netsh = std::wstring(system_dir, length) + L"\\netsh.exe";
    SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    HANDLE read_raw = nullptr;
    HANDLE write_raw = nullptr;
    if (!::CreatePipe(&read_raw, &write_raw, &inheritable, DWORD{kNetshOutputLimit})) {
        return {"", "cannot create a pipe: " + windows_error_text(::GetLastError())};
    }
    NetshHandle read_end(read_raw);
    NetshHandle write_end(write_raw);
    ::SetHandleInformation(read_raw, HANDLE_FLAG_INHERIT, 0);
    NetshOutput output;
    const auto process = start_netsh(netsh, arguments, write_raw, output.error);
    if (!process) {
        return output;
    }
    write_end.reset();  // netsh holds the only write end now: the pipe ends with it
    return collect_netsh_output(process.get(), read_raw, "netsh.exe");
}

/// With CARBON_LAUNCHER_TEST_HOOKS=1, TEST_ROOT\netsh\FILE stands in for netsh's output (a
/// missing file reads as netsh failing); otherwise netsh runs.
NetshOutput netsh_output(const wchar_t* arguments, const char* test_file) {
    if (const auto root = test_hooks_root()) {
        const auto file = *root / "netsh" / test_file;
        std::string error;
        if (auto text = read_text_file(file, error)) {
            return {*text, ""};
        }
        return {"", "cannot read " + file.string() + " (test hooks): " + error};
    }
    return run_netsh(arguments);
}

NetshPortFacts read_netsh_port_facts() {
    NetshPortFacts facts;
    const auto dynamic = netsh_output(kDynamicPortsCommand, "dynamicport.txt");
    facts.dynamic = dynamic.error.empty() ? parse_netsh_dynamic_ports(dynamic.text) : std::nullopt;
    if (!dynamic.error.empty()) {
        facts.dynamic_error = netsh_command_text(kDynamicPortsCommand) + ": " + dynamic.error;
    } else if (!facts.dynamic) {
        facts.dynamic_error = netsh_unreadable(kDynamicPortsCommand, dynamic.text,
                                               "no start port and number of ports");
    }
    const auto excluded = netsh_output(kExcludedPortsCommand, "excludedportrange.txt");
    facts.excluded =
        excluded.error.empty() ? parse_netsh_excluded_ports(excluded.text) : std::nullopt;
    if (!excluded.error.empty()) {
        facts.excluded_error = netsh_command_text(kExcludedPortsCommand) + ": " + excluded.error;
    } else if (!facts.excluded) {
        facts.excluded_error =
            netsh_unreadable(kExcludedPortsCommand, excluded.text, "no table of ranges");
    }
    return facts;
}

/// The port facts, read at most once per kNetshReadingLifetime (test files: every time).
NetshPortFacts netsh_port_facts() {
    if (test_hooks_root()) {
        return read_netsh_port_facts();
    }
    static std::mutex mutex;
    static std::optional<NetshPortFacts> reading;
    static std::chrono::steady_clock::time_point read_at;
    const std::lock_guard lock(mutex);
    const auto now = std::chrono::steady_clock::now();
    if (!reading || now - read_at > kNetshReadingLifetime) {
        reading = read_netsh_port_facts();
        read_at = now;
    }
    return *reading;
}

/// The administered exclusions (Windows' way of keeping ports out of the dynamic range, and
/// bindable), or the others (taken by a Windows component; nothing can bind there).
std::vector<PortRange> excluded_ranges(const NetshPortFacts& facts, bool administered) {
    std::vector<PortRange> ranges;
    for (const auto& excluded : facts.excluded.value_or(std::vector<ExcludedPortRange>{})) {
        if (excluded.administered == administered) {
            ranges.push_back(excluded.range);
        }
    }
    return ranges;
}

}  // namespace

PlanPreferences read_plan_preferences() {
    const auto ports = netsh_port_facts();
    PlanPreferences preferences;
    preferences.ephemeral = ports.dynamic;
    preferences.reserved = excluded_ranges(ports, true);
    preferences.unbindable = excluded_ranges(ports, false);
    return preferences;
}

void read_platform_host_facts(HostFacts& facts) {
    MEMORYSTATUSEX status{};
    status.dwLength = sizeof status;
    if (GlobalMemoryStatusEx(&status)) {
        facts.mem_total = status.ullTotalPhys;
        facts.mem_available = status.ullAvailPhys;
    }
    const auto ports = netsh_port_facts();
    facts.ephemeral = ports.dynamic;
    facts.ephemeral_error = ports.dynamic_error;
    facts.excluded = ports.excluded;
    facts.excluded_error = ports.excluded_error;
    facts.reserved = excluded_ranges(ports, true);
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
