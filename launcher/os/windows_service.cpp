// Windows service mode: `service install` registers the launcher with the SCM (automatic start,
// restart on failure), `service run` is what the SCM starts, and `service uninstall` stops and
// removes it. Several launchers can be installed side by side under different names; each gets
// its own state directory and control pipe.
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/cli_options.hpp"
#include "cli/error_report.hpp"
#include "cli/usage_error.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "os/paths.hpp"
#include "os/state_lock.hpp"
#include "os/windows_service.hpp"
#include "os/windows_text.hpp"
#include "planning/host_checks.hpp"
#include "planning/planning.hpp"
#include "supervision/supervisor.hpp"

namespace po = boost::program_options;

namespace carbon {
namespace {

constexpr const char* kDefaultServiceName = "carbon-launcher";
constexpr DWORD kDefaultWaitHintMs = 30000;
constexpr DWORD kPreshutdownTimeoutMs = 180000;  // JVMs get up to three minutes at shutdown
constexpr auto kUninstallStopTimeout = std::chrono::minutes(5);

/// The SCM's view of this process while `service run` runs. The SCM's control handler runs on
/// the dispatcher thread and the loop on the service thread, hence the mutex.
struct ServiceContext {
    std::mutex mutex;
    SERVICE_STATUS_HANDLE handle = nullptr;
    SERVICE_STATUS status{};
    std::wstring name;
    CommonOptions options;
    Supervisor* supervisor = nullptr;  // set while the loop runs
    bool stop_requested = false;
    int exit_code = kExitOk;
};

ServiceContext& service() {
    static ServiceContext context;
    return context;
}

void set_status_locked(ServiceContext& s, DWORD state, DWORD wait_hint) {
    const bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
    if (s.status.dwCurrentState != state) {
        s.status.dwCheckPoint = 0;  // checkpoints count progress within one pending state
    }
    s.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    s.status.dwCurrentState = state;
    s.status.dwControlsAccepted =
        state == SERVICE_RUNNING || state == SERVICE_START_PENDING
            ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PRESHUTDOWN
            : 0;
    s.status.dwCheckPoint = pending ? s.status.dwCheckPoint + 1 : 0;
    s.status.dwWaitHint = pending ? wait_hint : 0;
    if (s.handle != nullptr) {
        ::SetServiceStatus(s.handle, &s.status);
    }
}

DWORD native_state(ServiceState state) {
    switch (state) {
        case ServiceState::StartPending:
            return SERVICE_START_PENDING;
        case ServiceState::Running:
            return SERVICE_RUNNING;
        case ServiceState::StopPending:
            return SERVICE_STOP_PENDING;
        case ServiceState::Stopped:
            return SERVICE_STOPPED;
    }
    return SERVICE_STOPPED;
}

DWORD WINAPI control_handler(DWORD control, DWORD, void*, void*) {
    auto& s = service();
    switch (control) {
        case SERVICE_CONTROL_STOP:
        case SERVICE_CONTROL_SHUTDOWN:
        case SERVICE_CONTROL_PRESHUTDOWN: {
            std::lock_guard lock(s.mutex);
            set_status_locked(s, SERVICE_STOP_PENDING, kDefaultWaitHintMs);
            s.stop_requested = true;
            if (s.supervisor != nullptr) {
                s.supervisor->request_shutdown();
            }
            return NO_ERROR;
        }
        case SERVICE_CONTROL_INTERROGATE:
            return NO_ERROR;
        default:
            return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

/// A service has no console: the launcher's own log goes to STATE\launcher.log (10 MiB x 5).
void log_to_state_dir(const std::filesystem::path& state_dir) {
    std::filesystem::create_directories(state_dir);
    auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        (state_dir / "launcher.log").string(), 10 * 1024 * 1024, 5);
    auto logger = std::make_shared<spdlog::logger>("carbon-launcher", sink);
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

int supervise_as_service(ServiceContext& s) {
    log_to_state_dir(s.options.state());
    if (const auto holder = lock_state_dir(s.options.state())) {
        spdlog::error("another carbon-launcher (pid {}) already runs with state dir {}", *holder,
                      s.options.state().string());
        return kExitUnavailable;
    }
    boost::asio::io_context io;
    Supervisor supervisor(io, s.options);
    {
        std::lock_guard lock(s.mutex);
        s.supervisor = &supervisor;
        if (s.stop_requested) {
            supervisor.request_shutdown();
        }
    }
    int code = kExitFailure;
    try {
        code = supervisor.run();
    } catch (...) {  // e.g. a bad profile: nothing was started, the service stops with 78
        const ErrorReport report = report_current_exception();
        for (const auto& message : report.messages) {
            spdlog::error("{}{}", report.internal ? "internal error: " : "", message);
        }
        code = report.exit_code;
    }
    std::lock_guard lock(s.mutex);
    s.supervisor = nullptr;
    return code;
}

void WINAPI service_main(DWORD, wchar_t**) {
    auto& s = service();
    {
        std::lock_guard lock(s.mutex);
        s.handle = ::RegisterServiceCtrlHandlerExW(s.name.c_str(), control_handler, nullptr);
        if (s.handle == nullptr) {
            return;
        }
        set_status_locked(s, SERVICE_START_PENDING, kDefaultWaitHintMs);
    }
    int code = kExitFailure;
    try {
        code = supervise_as_service(s);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
    }
    std::lock_guard lock(s.mutex);
    s.exit_code = code;
    // A non-zero code counts as a failure, so the SCM's failure actions restart the service.
    s.status.dwWin32ExitCode = code == kExitOk ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
    s.status.dwServiceSpecificExitCode = static_cast<DWORD>(code);
    set_status_locked(s, SERVICE_STOPPED, 0);
}

/// The defaults of a service named `name`: the plain name uses the machine-wide defaults, any
/// other name its own directory and pipe, so that two services never share state.
void apply_service_defaults(const std::string& name, CommonOptions& options) {
    if (name == kDefaultServiceName) {
        return;
    }
    const auto base = default_state_dir().parent_path() / name;
    if (options.profiles_dir.empty()) {
        options.profiles_dir = (base / "profiles").string();
    }
    if (options.state_dir.empty()) {
        options.state_dir = (base / "state").string();
    }
    if (options.socket_path.empty()) {
        options.socket_path = "\\\\.\\pipe\\carbon-launcher-" + name;
    }
}

/// One argument of the service's command line (its ImagePath), quoted for CommandLineToArgvW:
/// backslashes before the closing quote doubled, so a path ending in '\\' does not escape it.
/// A quote or a control character could not be carried intact, and the SCM expands %NAME%
/// in an ImagePath (REG_EXPAND_SZ) with no way to escape it: all refused.
std::string in_quotes(const std::filesystem::path& path) {
    const std::string text = path.string();
    for (const char c : text) {
        if (c == '"' || c == '%' || static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
            throw UsageError("service: " + text +
                             " holds a quote, a % or a control character, which the service's "
                             "command line cannot carry intact; use another path");
        }
    }
    std::size_t trailing = 0;
    while (trailing < text.size() && text[text.size() - 1 - trailing] == '\\') {
        ++trailing;
    }
    return "\"" + text + std::string(trailing, '\\') + "\"";
}

/// What the SCM runs: this binary with every path spelled out absolute.
std::string service_command_line(const std::string& name, const CommonOptions& options) {
    std::string line = in_quotes(executable_path()) + " service run --name " + name;
    line += " --profiles " + in_quotes(std::filesystem::absolute(options.profiles()));
    line += " --state-dir " + in_quotes(std::filesystem::absolute(options.state()));
    line += " --socket " + in_quotes(options.socket());
    if (!options.runtimes_dir.empty()) {
        line += " --runtimes " + in_quotes(std::filesystem::absolute(options.runtimes_dir));
    }
    if (!options.socket_group.empty()) {
        line += " --socket-group " + in_quotes(options.socket_group);
    }
    return line;
}

class ServiceHandle {
  public:
    explicit ServiceHandle(SC_HANDLE handle) : handle_(handle) {}
    ~ServiceHandle() {
        if (handle_ != nullptr) {
            ::CloseServiceHandle(handle_);
        }
    }
    ServiceHandle(ServiceHandle&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)) {}
    ServiceHandle& operator=(const ServiceHandle&) = delete;
    SC_HANDLE get() const { return handle_; }
    explicit operator bool() const { return handle_ != nullptr; }

  private:
    SC_HANDLE handle_;
};

[[noreturn]] void fail_scm(const std::string& what, DWORD error) {
    if (error == ERROR_ACCESS_DENIED) {
        throw ExitError(kExitNoPermission,
                        what + ": access denied; run it from an elevated (Administrator) prompt");
    }
    throw ExitError(kExitFailure, what + ": " + windows_error_text(error));
}

ServiceHandle open_scm(DWORD access) {
    ServiceHandle scm(::OpenSCManagerW(nullptr, nullptr, access));
    if (!scm) {
        fail_scm("cannot open the service control manager", ::GetLastError());
    }
    return scm;
}

/// One optional setting of a new service: a failure is reported, and the service stays.
void configure(SC_HANDLE service, DWORD level, void* info, const char* what) {
    if (!::ChangeServiceConfig2W(service, level, info)) {
        std::cerr << "carbon-launcher: warning: the service was created without its " << what
                  << " setting: " << windows_error_text(::GetLastError()) << "\n";
    }
}

int install(const std::string& name, CommonOptions options) {
    apply_service_defaults(name, options);
    // Refuse profiles that do not load now, rather than a service that fails at every boot.
    const auto session = plan_from_options(options);
    for (const auto& conflict : session->plan.conflicts) {
        std::cerr << "carbon-launcher: warning: today's plan: " << conflict.message << "\n";
    }
    // A JDK outside the pack's range or too little memory would fail at every boot: refuse now.
    require_host_checks(*session, options.state(), [](const std::string& warning) {
        std::cerr << "carbon-launcher: warning: " << warning << "\n";
    });
    const std::string command_line = service_command_line(name, options);
    const auto scm = open_scm(SC_MANAGER_CREATE_SERVICE);
    const std::wstring display = widen("carbon-launcher (" + name + ")");
    ServiceHandle created(
        ::CreateServiceW(scm.get(), widen(name).c_str(), display.c_str(), SERVICE_ALL_ACCESS,
                         SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                         widen(command_line).c_str(), nullptr, nullptr, nullptr, nullptr, nullptr));
    if (!created) {
        const DWORD error = ::GetLastError();
        if (error == ERROR_SERVICE_EXISTS) {
            throw ExitError(kExitUnavailable, "a service named " + name +
                                                  " exists already: `carbon-launcher service "
                                                  "uninstall --name " +
                                                  name + "` first, or pick another --name");
        }
        fail_scm("cannot create the service " + name, error);
    }
    std::wstring description =
        widen("Starts and supervises the WSO2 runtimes of " + options.profiles().string() +
              " with unique port offsets (control pipe " + options.socket().string() + ")");
    SERVICE_DESCRIPTIONW about{description.data()};
    configure(created.get(), SERVICE_CONFIG_DESCRIPTION, &about, "description");
    SC_ACTION restarts[3] = {
        {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 30000}};
    SERVICE_FAILURE_ACTIONSW failure{};
    failure.dwResetPeriod = 24 * 60 * 60;
    failure.cActions = 3;
    failure.lpsaActions = restarts;
    configure(created.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &failure, "restart on failure");
    SERVICE_FAILURE_ACTIONS_FLAG on_exit_code{TRUE};  // a non-zero exit is a failure too
    configure(created.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_exit_code,
              "restart after a non-zero exit");
    SERVICE_PRESHUTDOWN_INFO preshutdown{kPreshutdownTimeoutMs};
    configure(created.get(), SERVICE_CONFIG_PRESHUTDOWN_INFO, &preshutdown, "preshutdown timeout");
    std::cout << "installed service " << name << " (automatic start, restart on failure)\n"
              << "  runs:  " << command_line << "\n"
              << "  start: sc start " << name << "\n"
              << "  status: carbon-launcher status --socket " << options.socket().string() << "\n";
    return kExitOk;
}

int uninstall(const std::string& name) {
    const auto scm = open_scm(SC_MANAGER_CONNECT);
    ServiceHandle existing(::OpenServiceW(scm.get(), widen(name).c_str(),
                                          SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
    if (!existing) {
        const DWORD error = ::GetLastError();
        if (error == ERROR_SERVICE_DOES_NOT_EXIST) {
            throw ExitError(kExitUsage, "no service named " + name + " is installed");
        }
        fail_scm("cannot open the service " + name, error);
    }
    SERVICE_STATUS status{};
    ::QueryServiceStatus(existing.get(), &status);
    if (status.dwCurrentState != SERVICE_STOPPED) {
        std::cout << "stopping " << name << " (its instances stop gracefully first)\n";
        ::ControlService(existing.get(), SERVICE_CONTROL_STOP, &status);
        // The SCM offers no completion event a console program can wait on portably: ask it
        // twice a second, within the bound.
        const auto deadline = std::chrono::steady_clock::now() + kUninstallStopTimeout;
        while (status.dwCurrentState != SERVICE_STOPPED &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            if (!::QueryServiceStatus(existing.get(), &status)) {
                break;
            }
        }
        if (status.dwCurrentState != SERVICE_STOPPED) {
            throw ExitError(kExitFailure, name + " did not stop within 5 minutes; not removed");
        }
    }
    if (!::DeleteService(existing.get())) {
        fail_scm("cannot remove the service " + name, ::GetLastError());
    }
    std::cout << "removed service " << name << "\n";
    return kExitOk;
}

int run_dispatcher(const std::string& name, CommonOptions options) {
    apply_service_defaults(name, options);
    auto& s = service();
    s.name = widen(name);
    s.options = std::move(options);
    SERVICE_TABLE_ENTRYW table[] = {{s.name.data(), service_main}, {nullptr, nullptr}};
    if (!::StartServiceCtrlDispatcherW(table)) {
        const DWORD error = ::GetLastError();
        if (error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
            throw ExitError(kExitUsage,
                            "`service run` is what the service manager starts; in a console use "
                            "`carbon-launcher run`, or `sc start " +
                                name + "`");
        }
        fail_scm("cannot connect to the service control manager", error);
    }
    return s.exit_code;
}

}  // namespace

bool running_as_service() {
    std::lock_guard lock(service().mutex);
    return service().handle != nullptr;
}

void report_service_state(ServiceState state) {
    auto& s = service();
    std::lock_guard lock(s.mutex);
    if (s.handle == nullptr) {
        return;
    }
    const DWORD native = native_state(state);
    if (s.status.dwCurrentState == SERVICE_STOP_PENDING && native == SERVICE_RUNNING) {
        return;  // a stop has begun: never report Running again
    }
    set_status_locked(s, native, kDefaultWaitHintMs);
}

void report_service_progress(std::chrono::milliseconds wait_hint) {
    auto& s = service();
    std::lock_guard lock(s.mutex);
    const DWORD state = s.status.dwCurrentState;
    if (s.handle != nullptr && (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING)) {
        set_status_locked(
            s, state, std::max<DWORD>(kDefaultWaitHintMs, static_cast<DWORD>(wait_hint.count())));
    }
}

int cmd_service(const std::vector<std::string>& args) {
    CommonOptions common;
    std::string action;
    std::string name = kDefaultServiceName;
    po::options_description options("service options");
    options.add_options()("name", po::value(&name)->value_name("NAME"),
                          "the service's name (default carbon-launcher); another name gets its "
                          "own state dir and pipe under %ProgramData%\\carbon-launcher\\NAME");
    add_common_options(options, common);
    add_socket_options(options, common, true);
    options.add_options()("help,h", "this help");
    options.add_options()("action", po::value(&action), "install, uninstall or run");
    po::positional_options_description positional;
    positional.add("action", 1);
    if (wants_help(args)) {
        std::cout << "usage: carbon-launcher service install|uninstall|run [--name NAME] "
                     "[--profiles DIR] [--state-dir DIR]\n\n"
                     "install:   register with the service control manager (automatic start,\n"
                     "           restart on failure, 3 minutes for a graceful stop at shutdown)\n"
                     "uninstall: stop it (every instance stops gracefully) and remove it\n"
                     "run:       what the service manager starts\n\n"
                  << options;
        return kExitOk;
    }
    parse_command_line("service", args, options, positional);
    const bool control = std::any_of(name.begin(), name.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
    });
    if (name.empty() || control || name.find_first_of("\\/\" %") != std::string::npos) {
        throw UsageError(
            "service: --name takes a name without spaces, quotes, slashes, % or control "
            "characters");
    }
    if (action == "install") {
        return install(name, common);
    }
    if (action == "uninstall") {
        return uninstall(name);
    }
    if (action == "run") {
        return run_dispatcher(name, common);
    }
    throw UsageError("service: say install, uninstall or run (carbon-launcher service --help)");
}

int cmd_internal_console_ctrl_c(const std::vector<std::string>& args) {
    if (args.size() != 1) {
        return kExitUsage;
    }
    return send_console_ctrl_c(std::atoi(args.front().c_str()));
}

}  // namespace carbon
