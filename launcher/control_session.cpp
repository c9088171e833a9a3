// The platform-neutral half of the control channel: sessions, bounds and broadcasts. The
// listening end and the peer check are in control_server_posix.cpp / control_server_windows.cpp.
#include <spdlog/spdlog.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include "control_server.hpp"

namespace asio = boost::asio;

namespace carbon {
namespace {

constexpr std::size_t kMaxClients = 256;
constexpr std::size_t kMaxQueuedOutput = 4 * 1024 * 1024;
constexpr std::chrono::seconds kRequestTimeout{10};

}  // namespace

void ControlServer::forget(ControlSession* session) {
    std::erase_if(sessions_, [session](const auto& s) { return s.get() == session; });
}

void ControlServer::admit(ControlStream stream) {
    auto session = std::make_shared<ControlSession>(std::move(stream), *this, handler_);
    if (sessions_.size() >= kMaxClients) {
        session->send(control_error(nullptr, "busy", "too many clients; try again"));
        session->close();
    } else {
        sessions_.insert(session);
        session->start();
    }
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

ControlSession::ControlSession(ControlStream stream, ControlServer& server, ControlHandler& handler)
    : socket_(std::move(stream)),
      server_(server),
      handler_(handler),
      idle_timer_(socket_.get_executor()) {}

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
#ifndef _WIN32
    // A child that inherited the descriptor must not keep the client waiting for EOF.
    socket_.shutdown(ControlStream::shutdown_both, ec);
#endif
    socket_.close(ec);
    server_.forget(this);
}

}  // namespace carbon
