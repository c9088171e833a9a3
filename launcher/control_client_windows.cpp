// The CLI's side of the control pipe on Windows. The pipe is opened for overlapped I/O so a
// read can wait with a timeout, as poll() does on POSIX.
#include <windows.h>

#include "control_client.hpp"
#include "exit_codes.hpp"
#include "windows_text.hpp"

namespace carbon {
namespace {

constexpr DWORD kBusyWaitMs = 5000;

}  // namespace

ControlClient::ControlClient(const std::filesystem::path& socket) : socket_(socket) {
    const std::wstring name = socket.wstring();
    for (int attempt = 0; attempt < 2; ++attempt) {
        pipe_ = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED, nullptr);
        if (pipe_ != INVALID_HANDLE_VALUE) {
            break;
        }
        const DWORD error = ::GetLastError();
        pipe_ = nullptr;
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
    read_event_ = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
}

ControlClient::~ControlClient() {
    if (pipe_ != nullptr) {
        ::CancelIo(pipe_);
        ::CloseHandle(pipe_);
    }
    if (read_event_ != nullptr) {
        ::CloseHandle(read_event_);
    }
}

void ControlClient::send(const nlohmann::json& message) {
    const std::string line = message.dump() + "\n";
    OVERLAPPED overlapped{};
    overlapped.hEvent = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    DWORD written = 0;
    bool ok =
        ::WriteFile(pipe_, line.data(), static_cast<DWORD>(line.size()), nullptr, &overlapped);
    if (!ok && ::GetLastError() == ERROR_IO_PENDING) {
        ok = true;
    }
    ok = ok && ::GetOverlappedResult(pipe_, &overlapped, &written, TRUE);
    ::CloseHandle(overlapped.hEvent);
    if (!ok || written != line.size()) {
        throw ControlClientError(kExitUnavailable, "the launcher closed the connection");
    }
}

bool ControlClient::read_more(std::chrono::milliseconds left) {
    char buffer[65536];
    OVERLAPPED overlapped{};
    overlapped.hEvent = read_event_;
    ::ResetEvent(read_event_);
    DWORD got = 0;
    if (!::ReadFile(pipe_, buffer, sizeof buffer, nullptr, &overlapped)) {
        const DWORD error = ::GetLastError();
        if (error != ERROR_IO_PENDING) {
            throw ControlClientError(kExitUnavailable, "the launcher closed the connection");
        }
        if (::WaitForSingleObject(read_event_, static_cast<DWORD>(left.count())) != WAIT_OBJECT_0) {
            ::CancelIo(pipe_);
            ::GetOverlappedResult(pipe_, &overlapped, &got, TRUE);  // the read is over either way
            input_.append(buffer, got);
            return got > 0;
        }
    }
    if (!::GetOverlappedResult(pipe_, &overlapped, &got, TRUE) || got == 0) {
        throw ControlClientError(kExitUnavailable, "the launcher closed the connection");
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
