#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <sstream>

#include "control_server.hpp"
#include "diagnostics.hpp"
#include "text_file.hpp"

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace carbon {
namespace {

constexpr std::size_t kMaxClients = 256;
constexpr std::size_t kMaxQueuedOutput = 4 * 1024 * 1024;
constexpr std::chrono::seconds kRequestTimeout{10};

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

ControlServer::ControlServer(asio::io_context& io, const ControlSocketOptions& options,
                             ControlHandler& handler)
    : io_(io), path_(options.path), handler_(handler), acceptor_(io) {
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
    acceptor_.open(stream_protocol());
    acceptor_.bind(stream_protocol::endpoint(path_.string()));
    ::chmod(path_.c_str(), 0660);
    if (::chown(path_.c_str(), static_cast<uid_t>(-1), group_id_) != 0) {
        spdlog::warn("cannot give {} to group {}: only its owner can use it", path_.string(),
                     group_name_);
    }
    acceptor_.listen(stream_protocol::acceptor::max_listen_connections);
    spdlog::info("control socket {} (group {})", path_.string(), group_name_);
    accept();
}

ControlServer::~ControlServer() {
    close();
}

void ControlServer::close() {
    if (!acceptor_.is_open()) {
        return;
    }
    boost::system::error_code ec;
    acceptor_.close(ec);
    std::filesystem::remove(path_, ec);
    for (const auto& session : std::set<std::shared_ptr<ControlSession>>(sessions_)) {
        session->drop();
    }
    sessions_.clear();
}

void ControlServer::forget(ControlSession* session) {
    std::erase_if(sessions_, [session](const auto& s) { return s.get() == session; });
}

void ControlServer::accept() {
    acceptor_.async_accept(
        [this](const boost::system::error_code& ec, stream_protocol::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
                return;
            }
            if (!ec) {
                auto session = std::make_shared<ControlSession>(std::move(socket), *this, handler_);
                if (sessions_.size() >= kMaxClients) {
                    session->send(control_error(nullptr, "busy", "too many clients; try again"));
                    session->close();
                } else {
                    sessions_.insert(session);
                    session->start();
                }
            }
            accept();
        });
}

void ControlServer::broadcast_state(const nlohmann::json& instance_status) {
    const auto event = control_event("state", {{"instance", instance_status}});
    for (const auto& session : std::set<std::shared_ptr<ControlSession>>(sessions_)) {
        if (session->watching) {
            session->send(event);
        }
    }
}

void ControlServer::broadcast_log(const std::string& name, std::string_view data) {
    std::optional<nlohmann::json> event;
    for (const auto& session : std::set<std::shared_ptr<ControlSession>>(sessions_)) {
        if (session->following_log == name) {
            if (!event) {
                event = control_event("log", {{"name", name}, {"data", std::string(data)}});
            }
            session->send(*event);
        }
    }
}

ControlSession::ControlSession(stream_protocol::socket socket, ControlServer& server,
                               ControlHandler& handler)
    : socket_(std::move(socket)),
      server_(server),
      handler_(handler),
      idle_timer_(socket_.get_executor()) {}

bool ControlSession::peer_allowed(std::string& who) {
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
        who = "an unidentified peer";
        return false;
    }
    who = "uid " + std::to_string(peer.uid) + " (pid " + std::to_string(peer.pid) + ")";
    if (peer.uid == 0 || peer.uid == ::geteuid() || peer.gid == server_.group_id()) {
        return true;
    }
    return groups_of(peer.pid).count(server_.group_id()) != 0;
}

void ControlSession::start() {
    std::string who;
    if (!peer_allowed(who)) {
        spdlog::warn("control socket: refused {}: not root and not in group {}", who,
                     server_.group_name());
        send(control_error(nullptr, "permission-denied",
                           "only root and members of group " + server_.group_name() + " may use " +
                               server_.path().string() + " (usermod -aG " + server_.group_name() +
                               " USER, then log in again)"));
        close();
        return;
    }
    read_request();
}

void ControlSession::arm_idle_timer() {
    idle_timer_.expires_after(kRequestTimeout);
    idle_timer_.async_wait([self = weak_from_this()](const boost::system::error_code& ec) {
        auto session = self.lock();
        if (!ec && session && !session->watching && session->following_log.empty()) {
            session->drop();  // a client that connects and never finishes a request
        }
    });
}

void ControlSession::read_request() {
    if (closed_ || closing_) {
        return;
    }
    arm_idle_timer();
    asio::async_read_until(
        socket_, asio::dynamic_string_buffer(input_, kMaxRequestBytes), '\n',
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t length) {
            if (ec) {
                if (ec == asio::error::not_found) {  // no newline within the size bound
                    self->send(control_error(nullptr, "request-too-large",
                                             "a request line may hold at most " +
                                                 std::to_string(kMaxRequestBytes) + " bytes"));
                }
                self->close();
                return;
            }
            if (self->closed_) {
                return;
            }
            const std::string line = self->input_.substr(0, length - 1);
            self->input_.erase(0, length);
            nlohmann::json id;
            try {
                const ControlRequest request = parse_control_request(line);
                id = request.id;
                ControlReply reply = self->handler_.handle(request, *self);
                if (reply.serialized_result.empty()) {
                    self->send(control_response(id, reply.result));
                } else {
                    self->send_line(R"({"v":)" + std::to_string(kControlProtocolVersion) +
                                    R"(,"id":)" + id.dump() + R"(,"ok":true,"result":)" +
                                    reply.serialized_result + "}");
                }
            } catch (const ProtocolError& e) {
                self->send(control_error(id, e.code(), e.what()));
            } catch (const std::exception& e) {
                self->send(control_error(id, "internal", e.what()));
            }
            self->read_request();
        });
}

void ControlSession::send(const nlohmann::json& message) {
    send_line(message.dump());
}

void ControlSession::send_line(std::string line) {
    if (closed_ || closing_) {
        return;
    }
    line += "\n";
    queued_bytes_ += line.size();
    if (queued_bytes_ > kMaxQueuedOutput) {
        spdlog::warn("control socket: dropped a client that does not read its output");
        drop();
        return;
    }
    output_.push_back(std::move(line));
    write_next();
}

void ControlSession::write_next() {
    if (writing_ || output_.empty() || closed_) {
        return;
    }
    writing_ = true;
    asio::async_write(
        socket_, asio::buffer(output_.front()),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            self->writing_ = false;
            if (ec || self->closed_) {
                self->drop();
                return;
            }
            self->queued_bytes_ -= self->output_.front().size();
            self->output_.pop_front();
            if (self->closing_ && self->output_.empty()) {
                self->drop();
                return;
            }
            self->write_next();
        });
}

void ControlSession::close() {
    closing_ = true;  // after what is queued (an error message) has gone out
    if (!writing_ && output_.empty()) {
        drop();
    }
}

void ControlSession::drop() {
    if (closed_) {
        return;
    }
    closed_ = true;
    output_.clear();
    boost::system::error_code ec;
    idle_timer_.cancel();
    socket_.shutdown(stream_protocol::socket::shutdown_both, ec);
    socket_.close(ec);
    server_.forget(this);
}

}  // namespace carbon
