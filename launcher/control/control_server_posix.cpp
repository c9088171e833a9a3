#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>  // malloc_trim
#endif

#include <boost/asio/local/stream_protocol.hpp>
#include <sstream>

#include "control/control_server.hpp"
#include "control/control_session.hpp"
#include "diagnostics.hpp"
#include "text_file.hpp"

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace carbon {
namespace {

/// The supplementary groups of a live process, from /proc/PID/status.
std::set<unsigned> groups_of(int pid) {
    std::set<unsigned> groups;
    std::string error;
    const auto status = read_text_file("/proc/" + std::to_string(pid) + "/status", error);
    if (!status) {
        return groups;
    }
    const auto at = status->find("\nGroups:");
    if (at == std::string::npos) {
        return groups;
    }
    std::istringstream line(status->substr(at + 8, status->find('\n', at + 1) - at - 8));
    unsigned gid;
    while (line >> gid) {
        groups.insert(gid);
    }
    return groups;
}

void prepare_directory(const std::filesystem::path& dir, unsigned gid) {
    std::error_code ec;
    if (std::filesystem::exists(dir, ec)) {
        return;  // an operator's directory: its permissions are theirs
    }
    std::filesystem::create_directories(dir);
    ::chmod(dir.c_str(), 0750);
    if (::geteuid() == 0 && ::chown(dir.c_str(), 0, gid) != 0) {
        spdlog::warn("cannot give {} to group {}", dir.string(), gid);
    }
}

}  // namespace

struct ControlServer::Listener {
    explicit Listener(asio::io_context& io) : acceptor(io) {}
    stream_protocol::acceptor acceptor;
};

ControlServer::ControlServer(asio::io_context& io, const ControlSocketOptions& options,
                             ControlHandler& handler)
    : io_(io), path_(options.path), handler_(handler), listener_(std::make_unique<Listener>(io)) {
    if (options.group.empty()) {
        group_id_ = ::getegid();
        const group* own = ::getgrgid(group_id_);
        group_name_ = own != nullptr ? own->gr_name : std::to_string(group_id_);
    } else {
        const group* named = ::getgrnam(options.group.c_str());
        if (named == nullptr) {
            throw ConfigError(path_, "--socket-group",
                              "no group \"" + options.group +
                                  "\" on this host; create it (groupadd " + options.group +
                                  ") or name another");
        }
        group_id_ = named->gr_gid;
        group_name_ = options.group;
    }
    prepare_directory(path_.parent_path(), group_id_);
    stream_protocol::socket probe(io);
    boost::system::error_code ec;
    probe.connect(stream_protocol::endpoint(path_.string()), ec);
    if (!ec) {
        throw std::system_error(EADDRINUSE, std::generic_category(),
                                "another launcher already serves " + path_.string() +
                                    "; stop it or pass --socket PATH");
    }
    std::filesystem::remove(path_, ec);  // a stale socket of a launcher that died
    listener_->acceptor.open(stream_protocol());
    listener_->acceptor.bind(stream_protocol::endpoint(path_.string()));
    ::chmod(path_.c_str(), 0660);
    if (::chown(path_.c_str(), static_cast<uid_t>(-1), group_id_) != 0) {
        spdlog::warn("cannot give {} to group {}: only its owner can use it", path_.string(),
                     group_name_);
    }
    listener_->acceptor.listen(stream_protocol::acceptor::max_listen_connections);
    spdlog::info("control socket {} (group {})", path_.string(), group_name_);
    accept();
}

ControlServer::~ControlServer() {
    close();
}

void ControlServer::close() {
    if (!listener_->acceptor.is_open()) {
        return;
    }
    boost::system::error_code ec;
    listener_->acceptor.close(ec);
    std::filesystem::remove(path_, ec);
    for (const auto& session : std::set<std::shared_ptr<ControlSession>>(sessions_)) {
        session->drop();
    }
    sessions_.clear();
}

void ControlServer::accept() {
    listener_->acceptor.async_accept(
        [this](const boost::system::error_code& ec, stream_protocol::socket socket) {
            if (ec == asio::error::operation_aborted || !listener_->acceptor.is_open()) {
                return;
            }
            if (!ec) {
                admit(std::move(socket));
            }
            accept();
        });
}

ControlPeer ControlServer::identify(ControlStream& stream) {
    ucred credentials{};
    socklen_t length = sizeof credentials;
    ControlPeer peer;
    if (::getsockopt(stream.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0) {
        peer.uid = credentials.uid;
        peer.gid = credentials.gid;
        peer.pid = credentials.pid;
        peer.identified = true;
    }
    return peer;
}

bool ControlServer::peer_allowed(const ControlPeer& peer) const {
    if (!peer.identified || !peer.uid) {
        return false;
    }
    if (*peer.uid == 0 || *peer.uid == ::geteuid() || peer.gid == group_id_) {
        return true;
    }
    return groups_of(static_cast<int>(peer.pid)).count(group_id_) != 0;
}

// glibc returns freed memory at the top of the heap only; malloc_trim also releases the free
// pages inside it, where the output of clients that never read was queued.
void ControlServer::give_memory_back() {
#ifdef __GLIBC__
    ::malloc_trim(0);
#endif
}

}  // namespace carbon
