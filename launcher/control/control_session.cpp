// The platform-neutral half of the control channel: sessions, bounds and broadcasts. The
// listening end, the peer check and giving memory back are in control_server_posix.cpp /
// control_server_windows.cpp.
#include "control/control_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "control/control_server.hpp"
#include "json_reader.hpp"

namespace asio = boost::asio;

namespace carbon {
namespace {

/// One client's unread output: far more than any reply (a status page, a 1 MiB log tail) plus
/// the events that arrive meanwhile, yet small enough that a client that never reads is found.
constexpr std::size_t kMaxQueuedOutput = 4 * 1024 * 1024;
/// Every client's unread output together. Events are queued once and shared by every client
/// they go to, so this counts more than the memory they take: it bounds the worst case.
constexpr std::size_t kMaxTotalQueuedOutput = 64 * 1024 * 1024;
/// The next request is read only while no more than this is unread: a client that sends
/// requests without reading the replies stalls itself instead of filling the launcher.
constexpr std::size_t kReadAheadBytes = 64 * 1024;
/// When a client goes and this much output (and input) has been freed since the last time, give
/// the memory back. One status page of 50 instances is ~150 KiB, and building it grew the heap
/// by ~0.4 MiB that glibc then kept: with a 1 MiB threshold the daemon stayed that much larger
/// after any `status` (issue 15, measured with bench/bench_supervise.py). malloc_trim takes well
/// under 2 ms even on a fragmented 60 MiB heap, far less on the daemon's ~2 MiB one, so once
/// per 64 KiB of traffic costs nothing noticeable.
constexpr std::size_t kReleaseAfterBytes = 64 * 1024;
constexpr std::chrono::seconds kRequestTimeout{10};
/// While the caps keep refusing clients, one log line a minute says so.
constexpr std::chrono::minutes kBusyLogInterval{1};

static_assert(kStatusPageBytes + kReadAheadBytes < kMaxQueuedOutput / 2,
              "a status page and the events around it fit well within a client's bound");

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
            if (e.code() == "busy") {
                session.close();  // refused as a watcher: it would only hold a slot idle
            }
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

std::string size_text(std::size_t bytes) {
    constexpr std::size_t kMiB = 1024 * 1024;
    return bytes % kMiB == 0 ? std::to_string(bytes / kMiB) + " MiB"
                             : std::to_string((bytes + 1023) / 1024) + " KiB";
}

}  // namespace

std::string ControlPeer::describe() const {
    if (!identified) {
        return "an unidentified peer";
    }
    return uid ? "uid " + std::to_string(*uid) + " (pid " + std::to_string(pid) + ")"
               : "pid " + std::to_string(pid);
}

void ControlServer::admit(ControlStream stream) {
    const ControlPeer peer = identify(stream);
    auto session = std::make_shared<ControlSession>(std::move(stream), *this, handler_, peer);
    if (const auto why = limits_.refuse_connection(peer.uid)) {
        refuse(session, *why);
        return;
    }
    limits_.connected(peer.uid);
    sessions_.insert(session);
    session->start();
}

// A refused client is not counted: it lives only until its error is written.
void ControlServer::refuse(const std::shared_ptr<ControlSession>& session, const std::string& why) {
    note_busy(session->peer(), why);
    session->send(control_error(nullptr, "busy", why));
    session->close();
}

// An attacker at a cap could otherwise write a log line per connection.
void ControlServer::note_busy(const ControlPeer& peer, const std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    if (busy_logged_at_ && now - *busy_logged_at_ < kBusyLogInterval) {
        ++busy_unlogged_;
        return;
    }
    spdlog::warn("control socket: busy: refused {}{}: {}", peer.describe(),
                 busy_unlogged_ > 0 ? " (and " + std::to_string(busy_unlogged_) +
                                          " clients since the last such line)"
                                    : std::string(),
                 why);
    busy_logged_at_ = now;
    busy_unlogged_ = 0;
}

std::optional<std::string> ControlServer::begin_stream(const ControlSession& session) {
    if (auto why = limits_.refuse_stream(session.peer().uid)) {
        note_busy(session.peer(), *why);
        return why;
    }
    limits_.started_streaming(session.peer().uid);
    return std::nullopt;
}

void ControlServer::forget(ControlSession* session, std::size_t input_held) {
    const auto it = std::find_if(sessions_.begin(), sessions_.end(),
                                 [session](const auto& s) { return s.get() == session; });
    if (it == sessions_.end()) {
        return;  // a refused client, never counted
    }
    limits_.disconnected(session->peer().uid, session->streaming());
    freed_since_release_ += input_held;
    if (freed_since_release_ >= kReleaseAfterBytes) {
        release_memory_soon();
    }
    sessions_.erase(it);  // may destroy the session: the last thing done with it
}

void ControlServer::output_queued(std::ptrdiff_t bytes) {
    if (bytes < 0) {
        freed_since_release_ += static_cast<std::size_t>(-bytes);  // written, or dropped unread
    }
    queued_output_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(queued_output_) + bytes);
    while (queued_output_ > kMaxTotalQueuedOutput && drop_slowest()) {
    }
}

// The client with the most unread output is the slowest reader, and past its share of the
// global bound: it goes, the others keep their events.
bool ControlServer::drop_slowest() {
    const auto slowest = std::max_element(
        sessions_.begin(), sessions_.end(),
        [](const auto& a, const auto& b) { return a->queued_bytes() < b->queued_bytes(); });
    if (slowest == sessions_.end() || (*slowest)->queued_bytes() == 0) {
        return false;  // only refused clients' errors are queued: they go by themselves
    }
    const std::shared_ptr<ControlSession> session = *slowest;  // alive while it is dropped
    session->drop_unread("the most unread output when all clients together passed " +
                         size_text(kMaxTotalQueuedOutput));
    return true;
}

// Posted, so that the sessions that just went are destroyed first. glibc keeps freed memory
// for reuse; after clients that never read have gone it would otherwise stay with the launcher.
void ControlServer::release_memory_soon() {
    freed_since_release_ = 0;
    if (release_posted_) {
        return;
    }
    release_posted_ = true;
    asio::post(io_, [this, alive = std::weak_ptr<int>(lifetime_)] {
        if (alive.expired()) {
            return;
        }
        release_posted_ = false;
        give_memory_back();
    });
}

void ControlServer::broadcast_state(const nlohmann::json& instance_status) {
    std::vector<std::shared_ptr<ControlSession>> watchers;
    for (const auto& session : sessions_) {
        if (session->watching()) {
            watchers.push_back(session);
        }
    }
    if (watchers.empty()) {
        return;
    }
    std::shared_ptr<const std::string> line;  // serialized once, shared by every watcher
    try {
        line = std::make_shared<const std::string>(
            serialize_control_message(control_event("state", {{"instance", instance_status}})) +
            "\n");
    } catch (const std::exception& e) {
        spdlog::error("control socket: cannot send a state event: {}", e.what());
        return;
    }
    for (const auto& session : watchers) {
        session->send_shared(line);
    }
}

void ControlServer::broadcast_log(const std::string& name, std::string_view data) {
    std::vector<std::shared_ptr<ControlSession>> followers;
    for (const auto& session : sessions_) {
        if (session->following_log() == name) {
            followers.push_back(session);
        }
    }
    if (followers.empty()) {
        return;
    }
    std::shared_ptr<const std::string> line;
    try {
        // The output is the instance's bytes, whatever their encoding.
        nlohmann::json event = control_event("log", {{"name", name}, {"data", std::string(data)}});
        encode_output_data(event);
        line = std::make_shared<const std::string>(serialize_control_message(event) + "\n");
    } catch (const std::exception& e) {
        spdlog::error("control socket: cannot send a log event: {}", e.what());
        return;
    }
    for (const auto& session : followers) {
        session->send_shared(line);
    }
}

ControlSession::ControlSession(ControlStream stream, ControlServer& server, ControlHandler& handler,
                               ControlPeer peer)
    : socket_(std::move(stream)),
      server_(server),
      handler_(handler),
      peer_(std::move(peer)),
      deadline_(socket_.get_executor()) {}

void ControlSession::start() {
    if (!server_.peer_allowed(peer_)) {
        spdlog::warn("control socket: refused {}: not root and not in group {}", peer_.describe(),
                     server_.group_name());
        refusal_ = "only root and members of group " + server_.group_name() + " may use " +
                   server_.path().string() + " (usermod -aG " + server_.group_name() +
                   " USER, then log in again)";
    }
    // A refused client is answered only once its request has been read: closing a Unix socket
    // with unread input resets the peer, which could then lose the refusal (or fail its write).
    read_request();
}

void ControlSession::watch() {
    become_stream();
    watching_ = true;
}

void ControlSession::follow(const std::string& name) {
    become_stream();
    following_log_ = name;
}

void ControlSession::become_stream() {
    if (streaming()) {
        return;  // already counted
    }
    if (const auto why = server_.begin_stream(*this)) {
        throw ProtocolError("busy", *why);
    }
}

// One deadline for whichever the client owes: a complete request, or reading its last reply.
// Streams may be silent for days: their bound is the output they leave unread.
void ControlSession::arm_deadline() {
    deadline_.expires_after(kRequestTimeout);
    deadline_.async_wait([self = weak_from_this()](const boost::system::error_code& ec) {
        auto session = self.lock();
        if (!ec && session && !session->streaming()) {
            session->drop();
        }
    });
}

void ControlSession::read_request() {
    if (closed_ || closing_) {
        return;
    }
    arm_deadline();
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
            if (!self->closed_) {
                self->on_request(length);
            }
        });
}

void ControlSession::on_request(std::size_t length) {
    if (!refusal_.empty()) {
        send(control_error(nullptr, "permission-denied", refusal_));
        close();
        return;
    }
    const std::string line = input_.substr(0, length - 1);
    input_.erase(0, length);
    answer(*this, handler_, line);
    if (queued_bytes_ > kReadAheadBytes && !closed_ && !closing_) {
        awaiting_drain_ = true;  // on_written() reads on
        arm_deadline();
        return;
    }
    read_request();
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
    line += "\n";
    enqueue(std::make_shared<const std::string>(std::move(line)));
}

void ControlSession::send_shared(const std::shared_ptr<const std::string>& line) {
    enqueue(line);
}

bool ControlSession::enqueue(std::shared_ptr<const std::string> line) {
    if (closed_ || closing_) {
        return false;
    }
    const std::size_t size = line->size();
    if (queued_bytes_ + size > kMaxQueuedOutput) {
        drop_unread("its own bound of " + size_text(kMaxQueuedOutput));
        return false;
    }
    queued_bytes_ += size;
    output_.push_back(std::move(line));
    server_.output_queued(static_cast<std::ptrdiff_t>(size));  // may drop this very client
    if (closed_) {
        return false;
    }
    write_next();
    return true;
}

void ControlSession::write_next() {
    if (writing_ || output_.empty() || closed_) {
        return;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(*output_.front()),
                      [self = shared_from_this(), line = output_.front()](
                          const boost::system::error_code& ec, std::size_t) {
                          self->writing_ = false;
                          if (ec || self->closed_) {
                              self->drop();
                              return;
                          }
                          self->on_written();
                      });
}

void ControlSession::on_written() {
    const std::size_t size = output_.front()->size();
    output_.pop_front();
    queued_bytes_ -= size;
    server_.output_queued(-static_cast<std::ptrdiff_t>(size));
    if (closing_ && output_.empty()) {
        drop();
        return;
    }
    if (awaiting_drain_ && queued_bytes_ <= kReadAheadBytes) {
        awaiting_drain_ = false;
        read_request();
    }
    write_next();
}

void ControlSession::close() {
    closing_ = true;  // after what is queued (an error message) has gone out
    if (!writing_ && output_.empty()) {
        drop();
    }
}

void ControlSession::drop_unread(const std::string& bound) {
    if (closed_) {
        return;
    }
    const std::string what = watching_                 ? "a watcher"
                             : !following_log_.empty() ? "a follower of " + following_log_
                                                       : "a client";
    spdlog::warn("control socket: dropped {}, {} that does not read its output ({} unread; {})",
                 peer_.describe(), what, size_text(queued_bytes_), bound);
    drop();
}

void ControlSession::drop() {
    if (closed_) {
        return;
    }
    closed_ = true;
    const std::size_t unread = queued_bytes_;
    const std::size_t input_held = input_.capacity();
    output_.clear();
    queued_bytes_ = 0;
    std::string().swap(input_);  // a session may live on in a pending handler: free it now
    deadline_.cancel();
    boost::system::error_code ec;
#ifndef _WIN32
    // A child that inherited the descriptor must not keep the client waiting for EOF.
    socket_.shutdown(ControlStream::shutdown_both, ec);
#endif
    socket_.close(ec);
    server_.output_queued(-static_cast<std::ptrdiff_t>(unread));
    server_.forget(this, input_held);  // may destroy this session: the last thing done here
}

}  // namespace carbon
