// Windows spawning. Each instance runs in a Job Object with KILL_ON_JOB_CLOSE: the child is
// created suspended, put in the job, then resumed, so not even its first grandchild can start
// outside the job, and when the launcher dies for any reason Windows closes the job handle and
// ends the whole tree. Each instance also gets a console of its own (without a window), so a
// graceful CTRL_C reaches that instance's cmd.exe and JVM and nothing else.
//
// CreateProcessW is used directly rather than Boost.Process: cmd.exe needs its own quoting
// (windows_command_line), and the suspended start, the job and the handle list are all
// CreateProcess details.
#include <windows.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/windows/object_handle.hpp>
#include <string>
#include <system_error>

#include "launch_spec.hpp"
#include "os/paths.hpp"
#include "os/windows_process.hpp"
#include "os/windows_text.hpp"
#include "supervision/spawn.hpp"

namespace asio = boost::asio;

namespace carbon {
namespace {

[[noreturn]] void throw_last_error(const std::string& what) {
    throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), what);
}

/// Closes a HANDLE unless it has been released.
class OwnedHandle {
  public:
    explicit OwnedHandle(HANDLE handle = nullptr) : handle_(handle) {}
    ~OwnedHandle() { reset(); }
    OwnedHandle(OwnedHandle&& other) noexcept : handle_(other.release()) {}
    OwnedHandle& operator=(OwnedHandle&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = other.release();
        }
        return *this;
    }
    HANDLE get() const { return handle_; }
    HANDLE release() { return std::exchange(handle_, nullptr); }
    void reset() {
        if (handle_ != nullptr && handle_ != INVALID_HANDLE_VALUE) {
            ::CloseHandle(handle_);
        }
        handle_ = nullptr;
    }
    bool valid() const { return handle_ != nullptr && handle_ != INVALID_HANDLE_VALUE; }

  private:
    HANDLE handle_;
};

/// A job whose processes all die when its last handle closes (the launcher's exit or crash).
OwnedHandle create_kill_on_close_job() {
    OwnedHandle job(::CreateJobObjectW(nullptr, nullptr));
    if (!job.valid()) {
        throw_last_error("cannot create a job object");
    }
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!::SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits,
                                   sizeof limits)) {
        throw_last_error("cannot make the job kill its processes on close");
    }
    return job;
}

/// The output pipe: a named pipe, because asio reads only overlapped handles and anonymous
/// pipes cannot be overlapped. The launcher's end is overlapped; the child's end is a plain
/// inheritable handle that becomes its stdout and stderr.
std::pair<OwnedHandle, OwnedHandle> create_output_pipe() {
    static std::atomic<unsigned> serial{0};
    const std::wstring name = L"\\\\.\\pipe\\carbon-launcher-output-" +
                              std::to_wstring(::GetCurrentProcessId()) + L"-" +
                              std::to_wstring(++serial);
    OwnedHandle read_end(::CreateNamedPipeW(
        name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
        PIPE_TYPE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 0, 64 * 1024, 0, nullptr));
    if (!read_end.valid()) {
        throw_last_error("cannot create an output pipe");
    }
    SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    OwnedHandle write_end(::CreateFileW(name.c_str(), GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING,
                                        FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!write_end.valid()) {
        throw_last_error("cannot open the output pipe's write end");
    }
    return {std::move(read_end), std::move(write_end)};
}

/// "NAME=value" entries as a CREATE_UNICODE_ENVIRONMENT block.
std::wstring environment_block(const std::vector<std::string>& env) {
    std::wstring block;
    for (const auto& entry : env) {
        block += widen(entry);
        block += L'\0';
    }
    block += L'\0';
    return block;
}

/// The pids in a job (at most 256: an instance is a script, a JVM and a few helpers).
std::vector<DWORD> job_members(HANDLE job) {
    struct {
        JOBOBJECT_BASIC_PROCESS_ID_LIST list;
        ULONG_PTR more[255];
    } ids{};
    ids.list.NumberOfAssignedProcesses = 256;
    std::vector<DWORD> pids;
    if (::QueryInformationJobObject(job, JobObjectBasicProcessIdList, &ids, sizeof ids, nullptr)) {
        for (DWORD i = 0; i < ids.list.NumberOfProcessIdsInList; ++i) {
            pids.push_back(static_cast<DWORD>(ids.list.ProcessIdList[i]));
        }
    }
    return pids;
}

/// Handles (SYNCHRONIZE) of the job's members that are still running. Liveness and the waits
/// come from this one list: the job's process count can still include a process whose handle
/// is already signalled, and a drain judged by the count could then wait for an event that
/// never comes.
std::vector<OwnedHandle> running_members(HANDLE job) {
    std::vector<OwnedHandle> running;
    for (const DWORD pid : job_members(job)) {
        OwnedHandle member(::OpenProcess(SYNCHRONIZE, FALSE, pid));
        if (member.valid() && ::WaitForSingleObject(member.get(), 0) == WAIT_TIMEOUT) {
            running.push_back(std::move(member));
        }
    }
    return running;
}

std::filesystem::path command_interpreter() {
    if (const auto comspec = environment_variable(L"ComSpec"); !comspec.empty()) {
        return comspec;
    }
    return std::filesystem::path(environment_variable(L"SystemRoot")) / "System32" / "cmd.exe";
}

/// What create_suspended says when `step` failed.
std::string suspended_start_failure(RedirectedStartStep step, const std::wstring& command_line) {
    switch (step) {
        case RedirectedStartStep::OpenNullInput:
            return "cannot open NUL for the child's stdin";
        case RedirectedStartStep::PrepareHandleList:
        case RedirectedStartStep::SetHandleList:
            return "cannot limit the handles the child inherits";
        case RedirectedStartStep::StartProcess:
            break;
    }
    return "cannot start " + narrow(command_line);
}

/// Starts `command_line` suspended with stdin from NUL and stdout/stderr to `output`; only
/// those two handles are inherited. The caller resumes the main thread.
PROCESS_INFORMATION create_suspended(const std::filesystem::path& application,
                                     std::wstring command_line, const std::wstring& environment,
                                     const std::filesystem::path& cwd, HANDLE output) {
    // Not CREATE_NEW_PROCESS_GROUP: it would turn CTRL_C off for the JVM. A console of its own
    // (CREATE_NO_WINDOW) is what separates one instance's CTRL_C from the next.
    const DWORD flags = CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW;
    const auto start = create_redirected_process(
        application.wstring().c_str(), command_line, flags, environment.c_str(),
        cwd.empty() ? nullptr : cwd.wstring().c_str(), output);
    if (!start.started) {
        throw std::system_error(static_cast<int>(start.error), std::system_category(),
                                suspended_start_failure(start.failed_step, command_line));
    }
    return start.info;
}

}  // namespace

/// Exits of the main process and of the job's other members, delivered on the loop. Shared
/// with the pending waits, so that a wait completing after the group is gone does nothing.
struct WatchState {
    std::function<void(ExitStatus)> main_exited;
    std::function<void()> member_exited;
    bool cancelled = false;
};

struct ChildGroup::Native {
    asio::io_context* io = nullptr;
    int pid = -1;
    OwnedHandle job;
    std::unique_ptr<asio::windows::object_handle> process;
    std::vector<std::unique_ptr<asio::windows::object_handle>> members;
    HANDLE output = nullptr;  // the launcher's end, until take_output()
    std::shared_ptr<WatchState> watch = std::make_shared<WatchState>();

    void wait_for_main();
    void wait_for_members();
    void on_member_exit(const std::shared_ptr<WatchState>& state);
};

ChildGroup::ChildGroup(asio::io_context& io, const SpawnSpec& spec)
    : native_(std::make_unique<Native>()) {
    native_->io = &io;
    std::vector<std::string> argv{spec.executable.string()};
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
    std::string command_line;
    try {
        command_line = windows_command_line(argv);
    } catch (const std::invalid_argument& e) {
        throw std::system_error(std::make_error_code(std::errc::invalid_argument), e.what());
    }
    OwnedHandle job = create_kill_on_close_job();
    auto [read_end, write_end] = create_output_pipe();
    const PROCESS_INFORMATION info =
        create_suspended(command_interpreter(), widen(command_line), environment_block(spec.env),
                         spec.cwd, write_end.get());
    OwnedHandle process(info.hProcess);
    OwnedHandle thread(info.hThread);
    if (!::AssignProcessToJobObject(job.get(), process.get())) {
        const DWORD error = ::GetLastError();
        ::TerminateProcess(process.get(), 1);
        ::SetLastError(error);
        throw_last_error("cannot put " + command_line + " in its job object");
    }
    ::ResumeThread(thread.get());
    native_->pid = static_cast<int>(info.dwProcessId);
    native_->job = OwnedHandle(job.release());
    native_->process = std::make_unique<asio::windows::object_handle>(io, process.release());
    native_->output = read_end.release();
}

ChildGroup::~ChildGroup() {
    native_->watch->cancelled = true;
    if (native_->output != nullptr) {
        ::CloseHandle(native_->output);
    }
    // Closing the job handle would kill what is left (KILL_ON_JOB_CLOSE); by now the group has
    // drained, or the launcher is exiting and the members should go with it.
}

int ChildGroup::pid() const {
    return native_->pid;
}

std::unique_ptr<OutputPipe> ChildGroup::take_output(asio::io_context& io) {
    return std::make_unique<OutputPipe>(io, std::exchange(native_->output, nullptr));
}

void ChildGroup::watch(std::function<void(ExitStatus)> main_exited,
                       std::function<void()> member_exited) {
    native_->watch->main_exited = std::move(main_exited);
    native_->watch->member_exited = std::move(member_exited);
    native_->wait_for_main();
}

void ChildGroup::Native::wait_for_main() {
    process->async_wait([this, state = watch](const boost::system::error_code& ec) {
        if (ec || state->cancelled) {
            return;
        }
        DWORD code = 0;
        ::GetExitCodeProcess(process->native_handle(), &code);
        state->main_exited(ExitStatus{false, static_cast<int>(code)});
        if (!state->cancelled) {  // the callback may have ended the group
            wait_for_members();
        }
    });
}

// The job's remaining members (a JVM whose cmd.exe has gone): each exit is an event, and the
// list is read again after each, since a member may have started another. When none is left
// running, that is an event too, so the owner always hears about the drain.
void ChildGroup::Native::wait_for_members() {
    members.clear();
    auto running = running_members(job.get());
    if (running.empty()) {  // drained for good: nothing left could start another
        asio::post(*io, [state = watch] {
            if (!state->cancelled) {
                state->member_exited();
            }
        });
        return;
    }
    for (auto& member : running) {
        members.push_back(std::make_unique<asio::windows::object_handle>(*io, member.release()));
        members.back()->async_wait([this, state = watch](const boost::system::error_code& ec) {
            if (!ec) {
                on_member_exit(state);
            }
        });
    }
}

void ChildGroup::Native::on_member_exit(const std::shared_ptr<WatchState>& state) {
    if (state->cancelled) {
        return;
    }
    state->member_exited();
    if (!state->cancelled) {  // the callback may have ended the group
        wait_for_members();
    }
}

std::string ChildGroup::request_stop() {
    // GenerateConsoleCtrlEvent reaches only the caller's own console, and the launcher must
    // keep its own: a short-lived helper (this binary) attaches to the instance's console and
    // sends CTRL_C there. If it cannot, the stop timeout ends the job.
    const std::filesystem::path helper = executable_path();
    std::wstring command_line =
        L"\"" + helper.wstring() + L"\" internal-console-ctrl-c " + std::to_wstring(native_->pid);
    STARTUPINFOW startup{};
    startup.cb = sizeof startup;
    PROCESS_INFORMATION info{};
    if (!::CreateProcessW(helper.wstring().c_str(), command_line.data(), nullptr, nullptr, FALSE,
                          DETACHED_PROCESS, nullptr, nullptr, &startup, &info)) {
        return "no CTRL_C (cannot start the helper: error " + std::to_string(::GetLastError()) +
               ")";
    }
    ::CloseHandle(info.hThread);
    ::CloseHandle(info.hProcess);
    return "CTRL_C to the console of pid " + std::to_string(native_->pid);
}

// The JVM prints a dump on CTRL_BREAK. Sent to the instance's console as request_stop() sends
// CTRL_C, it did not make the simulated JVM print its dump under Wine, so it is not sent until it
// can be tested.
std::optional<std::string> ChildGroup::request_thread_dump(int) {
    spdlog::warn("no thread dump: not taken on Windows yet (CTRL_BREAK is not sent)");
    return std::nullopt;
}

std::string ChildGroup::kill() {
    ::TerminateJobObject(native_->job.get(), 1);
    return "TerminateJobObject for the job of pid " + std::to_string(native_->pid);
}

bool ChildGroup::alive() const {
    return !running_members(native_->job.get()).empty();
}

bool ChildGroup::contains(int pid) const {
    const auto pids = job_members(native_->job.get());
    return std::find(pids.begin(), pids.end(), static_cast<DWORD>(pid)) != pids.end();
}

std::string ChildGroup::describe() const {
    return "the job of pid " + std::to_string(native_->pid);
}

std::filesystem::path ChildGroup::cgroup_directory() const {
    return {};  // the job object is the containment
}

int current_pid() {
    return static_cast<int>(::GetCurrentProcessId());
}

// The helper's side of request_stop(): leave our (absent) console, join the instance's, and
// send CTRL_C to every process on it, ignoring it ourselves.
int send_console_ctrl_c(int pid) {
    ::FreeConsole();
    if (!::AttachConsole(static_cast<DWORD>(pid))) {
        return 1;
    }
    ::SetConsoleCtrlHandler(nullptr, TRUE);
    const bool sent = ::GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0);
    ::FreeConsole();
    return sent ? 0 : 1;
}

}  // namespace carbon
