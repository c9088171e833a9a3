// The control channel on Windows: a named pipe, one instance per client, overlapped so that
// connects, reads and writes are all events on the loop. The pipe's DACL is the access check:
// SYSTEM, Administrators, the launcher's own user and the configured group; everyone else is
// refused by Windows before a byte reaches the launcher. Remote clients are rejected.
// clang-format off
#include <windows.h>
#include <sddl.h>  // after windows.h, which it needs
// clang-format on
#include <malloc.h>  // _heapmin
#include <spdlog/spdlog.h>

#include <boost/asio/windows/overlapped_ptr.hpp>

#include "control/control_server.hpp"
#include "control/control_session.hpp"
#include "diagnostics.hpp"
#include "os/windows_text.hpp"

namespace asio = boost::asio;

namespace carbon {
namespace {

std::wstring sid_string(PSID sid) {
    wchar_t* text = nullptr;
    if (!::ConvertSidToStringSidW(sid, &text)) {
        return L"";
    }
    std::wstring result(text);
    ::LocalFree(text);
    return result;
}

std::wstring current_user_sid() {
    HANDLE token = nullptr;
    if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) {
        return L"";
    }
    std::vector<char> buffer(512);
    DWORD size = 0;
    std::wstring sid;
    if (::GetTokenInformation(token, TokenUser, buffer.data(), static_cast<DWORD>(buffer.size()),
                              &size)) {
        sid = sid_string(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid);
    }
    ::CloseHandle(token);
    return sid;
}

std::wstring group_sid(const std::filesystem::path& pipe, const std::string& group) {
    std::vector<char> sid(SECURITY_MAX_SID_SIZE);
    auto sid_size = static_cast<DWORD>(sid.size());
    std::wstring domain(256, L'\0');
    auto domain_size = static_cast<DWORD>(domain.size());
    SID_NAME_USE use{};
    if (!::LookupAccountNameW(nullptr, widen(group).c_str(), sid.data(), &sid_size, domain.data(),
                              &domain_size, &use)) {
        throw ConfigError(pipe, "--socket-group",
                          "no account \"" + group + "\" on this host (" +
                              windows_error_text(::GetLastError()) +
                              "); create the group or name another");
    }
    return sid_string(sid.data());
}

/// D:P = a protected DACL (nothing inherited); GA = full access for SYSTEM (SY), the built-in
/// Administrators (BA) and the launcher's own user; read and write for the control group.
std::wstring pipe_dacl(const std::filesystem::path& pipe, const std::string& group) {
    std::wstring sddl = L"D:P(A;;GA;;;SY)(A;;GA;;;BA)";
    if (const auto user = current_user_sid(); !user.empty()) {
        sddl += L"(A;;GA;;;" + user + L")";
    }
    if (!group.empty()) {
        sddl += L"(A;;GRGW;;;" + group_sid(pipe, group) + L")";
    }
    return sddl;
}

}  // namespace

struct ControlServer::Listener {
    std::wstring name;
    PSECURITY_DESCRIPTOR security = nullptr;
    std::unique_ptr<ControlStream> waiting;  // the instance a client will connect to next
    bool open = true;
    bool first = true;

    ~Listener() {
        if (security != nullptr) {
            ::LocalFree(security);
        }
    }
};

ControlServer::ControlServer(asio::io_context& io, const ControlSocketOptions& options,
                             ControlHandler& handler)
    : io_(io), path_(options.path), handler_(handler), listener_(std::make_unique<Listener>()) {
    group_name_ = options.group.empty() ? "Administrators" : options.group;
    listener_->name = path_.wstring();
    const std::wstring sddl = pipe_dacl(path_, options.group);
    if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1,
                                                                &listener_->security, nullptr)) {
        throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(),
                                "cannot build the access list of " + path_.string());
    }
    accept();
    spdlog::info("control pipe {} (SYSTEM, Administrators, this user{}{})", path_.string(),
                 options.group.empty() ? "" : ", group ", options.group);
}

ControlServer::~ControlServer() {
    close();
}

void ControlServer::close() {
    if (!listener_->open) {
        return;
    }
    listener_->open = false;
    listener_->waiting.reset();  // cancels the pending connect
    for (const auto& session : std::set<std::shared_ptr<ControlSession>>(sessions_)) {
        session->drop();
    }
    sessions_.clear();
}

void ControlServer::accept() {
    SECURITY_ATTRIBUTES attributes{sizeof(SECURITY_ATTRIBUTES), listener_->security, FALSE};
    const DWORD first = listener_->first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0;
    HANDLE pipe = ::CreateNamedPipeW(
        listener_->name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | first,
        PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
        PIPE_UNLIMITED_INSTANCES, 64 * 1024, 64 * 1024, 0, &attributes);
    if (pipe == INVALID_HANDLE_VALUE) {
        const DWORD error = ::GetLastError();
        if (listener_->first) {
            throw std::system_error(static_cast<int>(error), std::system_category(),
                                    error == ERROR_ACCESS_DENIED || error == ERROR_PIPE_BUSY
                                        ? "another launcher already serves " + path_.string() +
                                              "; stop it or pass --socket \\\\.\\pipe\\NAME"
                                        : "cannot create " + path_.string());
        }
        spdlog::error("control pipe: cannot create another instance: {}",
                      windows_error_text(error));
        return;
    }
    listener_->first = false;
    listener_->waiting = std::make_unique<ControlStream>(io_, pipe);
    asio::windows::overlapped_ptr connected(
        io_, [this](const boost::system::error_code& ec, std::size_t) {
            if (ec == asio::error::operation_aborted || !listener_->open) {
                return;
            }
            auto stream = std::move(listener_->waiting);
            if (!ec) {
                admit(std::move(*stream));
            }
            accept();
        });
    const bool done = ::ConnectNamedPipe(pipe, connected.get());
    const DWORD error = ::GetLastError();
    if (!done && error == ERROR_IO_PENDING) {
        connected.release();  // completes through the loop's completion port
    } else if (done || error == ERROR_PIPE_CONNECTED) {
        connected.complete(boost::system::error_code(), 0);  // a client was already there
    } else {
        connected.complete(
            boost::system::error_code(static_cast<int>(error), boost::system::system_category()),
            0);
    }
}

ControlPeer ControlServer::identify(ControlStream& stream) {
    ControlPeer peer;
    ULONG pid = 0;
    if (::GetNamedPipeClientProcessId(stream.native_handle(), &pid)) {
        peer.pid = static_cast<long>(pid);
        peer.identified = true;
    }
    return peer;  // no uid: the per-user caps do not apply to pipes
}

bool ControlServer::peer_allowed(const ControlPeer&) const {
    return true;  // the pipe's DACL has already admitted it
}

// The CRT heap keeps freed blocks; give the free ones back once clients that never read are gone.
void ControlServer::give_memory_back() {
    ::_heapmin();
}

}  // namespace carbon
