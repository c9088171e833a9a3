#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "control_protocol.hpp"

#ifdef _WIN32
#include <boost/asio/windows/stream_handle.hpp>
#else
#include <boost/asio/local/stream_protocol.hpp>
#endif

namespace carbon {

/// One client's connection: a Unix stream socket, or on Windows one instance of a named pipe.
#ifdef _WIN32
using ControlStream = boost::asio::windows::stream_handle;
#else
using ControlStream = boost::asio::local::stream_protocol::socket;
#endif

class ControlSession;

/// A handler's answer: a JSON result, or (for large, hot answers such as status) its text
/// already serialized, which is spliced into the response without building a tree.
struct ControlReply {
    nlohmann::json result;
    std::string serialized_result;

    ControlReply(nlohmann::json value) : result(std::move(value)) {}  // NOLINT: implicit on purpose
    static ControlReply serialized(std::string text) {
        ControlReply reply(nullptr);
        reply.serialized_result = std::move(text);
        return reply;
    }
};

/// What the supervisor answers on the control socket.
class ControlHandler {
  public:
    virtual ~ControlHandler() = default;
    /// Answers one request (the "result" object); throws ProtocolError for a refusal. May mark
    /// the session as watching or following a log.
    virtual ControlReply handle(const ControlRequest& request, ControlSession& session) = 0;
};

/// Where the socket lives and who may use it.
struct ControlSocketOptions {
    std::filesystem::path path;
    std::string group;  // members may connect; "" = the launcher's own group
};

/// The control socket: a Unix stream socket (no TCP listener at all), mode 0660, owned by the
/// control group. Every peer is checked with SO_PEERCRED: root, the launcher's own user and
/// members of the group are served, anyone else is refused and logged. On Windows it is a named
/// pipe whose DACL admits only Administrators, SYSTEM and the control group. Every client is
/// bounded: a request line of at most kMaxRequestBytes, a complete request within 10 s, at most 256
/// clients, at most 4 MiB of unread output; past a bound the client is dropped, never the loop.
class ControlServer {
  public:
    ControlServer(boost::asio::io_context& io, const ControlSocketOptions& options,
                  ControlHandler& handler);
    ~ControlServer();

    void broadcast_state(const nlohmann::json& instance_status);
    void broadcast_log(const std::string& name, std::string_view data);
    void close();

    const std::filesystem::path& path() const { return path_; }
    const std::string& group_name() const { return group_name_; }
    unsigned group_id() const { return group_id_; }
    void forget(ControlSession* session);
    /// A new client: served, or told the launcher is busy.
    void admit(ControlStream stream);

  private:
    void accept();
    struct Listener;  // the platform's accepting end (control_server_posix/_windows.cpp)

    boost::asio::io_context& io_;
    std::filesystem::path path_;
    std::string group_name_;
    unsigned group_id_ = 0;
    ControlHandler& handler_;
    std::unique_ptr<Listener> listener_;
    std::set<std::shared_ptr<ControlSession>> sessions_;
};

/// One client connection.
class ControlSession : public std::enable_shared_from_this<ControlSession> {
  public:
    ControlSession(ControlStream stream, ControlServer& server, ControlHandler& handler);
    void start();
    void send(const nlohmann::json& message);
    void send_line(std::string line);  // one serialized message, without its newline
    void close();                      // after the queued output has been written
    void drop();                       // now

    bool watching = false;      // receives state events
    std::string following_log;  // receives this instance's output

  private:
    bool peer_allowed(std::string& who);
    void read_request();
    void arm_idle_timer();
    void write_next();

    ControlStream socket_;
    ControlServer& server_;
    ControlHandler& handler_;
    boost::asio::steady_timer idle_timer_;
    std::string input_;
    std::deque<std::string> output_;
    std::size_t queued_bytes_ = 0;
    bool writing_ = false;
    bool closing_ = false;
    bool closed_ = false;
    std::string refusal_;  // why this peer may not use the socket, once its request is read
};

}  // namespace carbon
