// The CLI's side of the control pipe on Windows. The pipe is opened for overlapped I/O so a
// read can wait with a timeout, as poll() does on POSIX.
#include <windows.h>

#include "control/control_client.hpp"
#include "exit_codes.hpp"
#include "os/windows_text.hpp"

namespace carbon {
namespace {

constexpr DWORD kBusyWaitMs = 5000;

}  // namespace

struct ControlClient::Native {
    HANDLE pipe = nullptr;        // opened for overlapped I/O
    HANDLE read_event = nullptr;  // the event a pending read signals

    ~Native() {
        if (pipe != nullptr) {
            ::CancelIo(pipe);
            ::CloseHandle(pipe);
        }
        if (read_event != nullptr) {
            ::CloseHandle(read_event);
        }
    }
};

ControlClient::ControlClient(const std::filesystem::path& socket)
    : native_(std::make_unique<Native>()), socket_(socket) {
    const std::wstring name = socket.wstring();
    for (int attempt = 0; attempt < 2; ++attempt) {
        HANDLE pipe = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                                    OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
        if (pipe != INVALID_HANDLE_VALUE) {
            native_->pipe = pipe;
            break;
        }
        const DWORD error = ::GetLastError();
        if (error == ERROR_PIPE_BUSY && attempt == 0 &&
            ::WaitNamedPipeW(name.c_str(), kBusyWaitMs)) {
            continue;  // every instance was taken; the launcher makes a new one per client
        }
        if (error == ERROR_ACCESS_DENIED) {
            refuse_permission();
        }
        throw ControlClientError(kExitUnavailable,
                                 "no launcher is listening on " + socket.string() + " (" +
                                     windows_error_text(error) +
                                     "): start it with `carbon-launcher run` or `sc start "
                                     "carbon-launcher`, or pass --socket \\\\.\\pipe\\NAME");
    }
    native_->read_event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
}

ControlClient::~ControlClient() = default;

void ControlClient::send(const nlohmann::json& message) {
    const std::string line = message.dump() + "\n";
    OVERLAPPED overlapped{};
    overlapped.hEvent = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    DWORD written = 0;
    bool ok = ::WriteFile(native_->pipe, line.data(), static_cast<DWORD>(line.size()), nullptr,
                          &overlapped);
    if (!ok && ::GetLastError() == ERROR_IO_PENDING) {
        ok = true;
    }
    ok = ok && ::GetOverlappedResult(native_->pipe, &overlapped, &written, TRUE);
    ::CloseHandle(overlapped.hEvent);
    if (!ok || written != line.size()) {
        throw ControlConnectionClosed();
    }
}

bool ControlClient::read_more(std::chrono::milliseconds left) {
    char buffer[65536];
    OVERLAPPED overlapped{};
    overlapped.hEvent = native_->read_event;
    ::ResetEvent(native_->read_event);
    DWORD got = 0;
    if (!::ReadFile(native_->pipe, buffer, sizeof buffer, nullptr, &overlapped)) {
        const DWORD error = ::GetLastError();
        if (error != ERROR_IO_PENDING) {
            throw ControlConnectionClosed();
        }
        if (::WaitForSingleObject(native_->read_event, static_cast<DWORD>(left.count())) !=
            WAIT_OBJECT_0) {
            ::CancelIo(native_->pipe);
            // The read is over either way.
            ::GetOverlappedResult(native_->pipe, &overlapped, &got, TRUE);
            input_.append(buffer, got);
            return got > 0;
        }
    }
    if (!::GetOverlappedResult(native_->pipe, &overlapped, &got, TRUE) || got == 0) {
        throw ControlConnectionClosed();
    }
    input_.append(buffer, got);
    return true;
}

void ControlClient::refuse_permission() const {
    throw ControlClientError(kExitNoPermission,
                             "permission denied on " + socket_.string() +
                                 ": SYSTEM, Administrators, the launcher's own user and its "
                                 "--socket-group may use it; run from an elevated prompt");
}

}  // namespace carbon
