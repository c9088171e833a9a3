// The platform-neutral half of the control channel: sessions, bounds and broadcasts. The
// listening end and the peer check are in control_server_posix.cpp / control_server_windows.cpp.
#include <spdlog/spdlog.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include "control_server.hpp"
#include "json_reader.hpp"

namespace asio = boost::asio;

namespace carbon {
namespace {

constexpr std::size_t kMaxClients = 256;
constexpr std::size_t kMaxQueuedOutput = 4 * 1024 * 1024;
constexpr std::chrono::seconds kRequestTimeout{10};

// The session boundary: nothing a client sends, and nothing a reply holds, may throw past here
// into the event loop (which would end the launcher and leave every instance unsupervised).
void answer(ControlSession& session, ControlHandler& handler, const std::string& line) {
    nlohmann::json id;
    try {
        try {
            const ControlRequest request = parse_control_request(line);
            id = request.id;
            ControlReply reply = handler.handle(request, session);
            if (!reply.serialized_result.empty()) {
                session.send_line(R"({"v":)" + std::to_string(kControlProtocolVersion) +
                                  R"(,"id":)" + serialize_control_message(id) +
                                  R"(,"ok":true,"result":)" + reply.serialized_result + "}");
                return;
            }
            if (request.command == "logs") {
                encode_output_data(reply.result);
            }
            session.send(control_response(id, reply.result));
        } catch (const ProtocolError& e) {
            session.send(control_error(id, e.code(), e.what()));
        } catch (const std::exception& e) {
            spdlog::error("control socket: a request failed: {}", to_valid_utf8(e.what()));
            session.send(control_error(id, "internal", e.what()));
        }
    } catch (const std::exception& e) {
        spdlog::error("control socket: dropped a client whose reply failed: {}",
                      to_valid_utf8(e.what()));
        session.drop();
    }
}

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
    std::optional<std::string> line;  // serialized once for every watcher
    for (const auto& session : std::set<std::shared_ptr<ControlSession>>(sessions_)) {
        if (session->watching) {
            if (!line) {
                try {
                    line = serialize_control_message(
                        control_event("state", {{"instance", instance_status}}));
                } catch (const std::exception& e) {
                    spdlog::error("control socket: cannot send a state event: {}", e.what());
                    return;
                }
            }
            session->send_line(*line);
        }
    }
}

void ControlServer::broadcast_log(const std::string& name, std::string_view data) {
    std::optional<std::string> line;
    for (const auto& session : std::set<std::shared_ptr<ControlSession>>(sessions_)) {
        if (session->following_log == name) {
            if (!line) {
                try {
                    // The output is the instance's bytes, whatever their encoding.
                    nlohmann::json event =
                        control_event("log", {{"name", name}, {"data", std::string(data)}});
                    encode_output_data(event);
                    line = serialize_control_message(event);
                } catch (const std::exception& e) {
                    spdlog::error("control socket: cannot send a log event: {}", e.what());
                    return;
                }
            }
            session->send_line(*line);
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
        refusal_ = "only root and members of group " + server_.group_name() + " may use " +
                   server_.path().string() + " (usermod -aG " + server_.group_name() +
                   " USER, then log in again)";
    }
    // A refused client is answered only once its request has been read: closing a Unix socket
    // with unread input resets the peer, which could then lose the refusal (or fail its write).
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
            if (!self->refusal_.empty()) {
                self->send(control_error(nullptr, "permission-denied", self->refusal_));
                self->close();
                return;
            }
            const std::string line = self->input_.substr(0, length - 1);
            self->input_.erase(0, length);
            answer(*self, self->handler_, line);
            self->read_request();
        });
}

void ControlSession::send(const nlohmann::json& message) {
    std::string line;
    try {
        line = serialize_control_message(message);
    } catch (const std::exception& e) {
        spdlog::error("control socket: dropped a client whose message failed: {}", e.what());
        drop();
        return;
    }
    send_line(std::move(line));
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
