#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "control_limits.hpp"
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
    /// Answers one request (the "result" object); throws ProtocolError for a refusal. May make
    /// the session a watcher or a log follower (which throws ProtocolError "busy" past a cap).
    virtual ControlReply handle(const ControlRequest& request, ControlSession& session) = 0;
};

/// Where the socket lives and who may use it.
struct ControlSocketOptions {
    std::filesystem::path path;
    std::string group;  // members may connect; "" = the launcher's own group
};

/// Who is at the other end of a connection, as the kernel says (SO_PEERCRED). On Windows only
/// the pid is known: the pipe's access list has already checked the user.
struct ControlPeer {
    std::optional<unsigned> uid;
    unsigned gid = 0;
    long pid = 0;
    bool identified = false;
    /// "uid 1000 (pid 4242)", for logs.
    std::string describe() const;
};

/// The control socket: a Unix stream socket (no TCP listener at all), mode 0660, owned by the
/// control group. Every peer is checked with SO_PEERCRED: root, the launcher's own user and
/// members of the group are served, anyone else is refused and logged. On Windows it is a named
/// pipe whose DACL admits only Administrators, SYSTEM and the control group.
///
/// Every client is bounded, so that no client can stall supervision or lock the others out: a
/// request line of at most kMaxRequestBytes; a complete request within 10 s, and each reply read
/// within 10 s (watchers and log followers excepted); the next request is read only once the
/// last reply has mostly gone out; the caps of ControlCaps on connections and on streams, in
/// total and per user; at most 4 MiB of unread output per client and 64 MiB for all together,
/// past which the client with the most unread output is dropped. Past a bound a client is told
/// `busy` or dropped, never the loop.
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
    /// A new client: served, or told the launcher is busy.
    void admit(ControlStream stream);

    // For sessions.
    /// True when the peer may use the socket (the platform's check).
    bool peer_allowed(const ControlPeer& peer) const;
    /// Empty when the session may start to watch or follow a log (it is then counted as such);
    /// otherwise why not.
    std::optional<std::string> begin_stream(const ControlSession& session);
    /// `bytes` more (or fewer) unread output bytes queued; drops the clients with the most
    /// while all together hold more than the global bound.
    void output_queued(std::ptrdiff_t bytes);
    /// A session has gone; its input buffer held `input_held` bytes.
    void forget(ControlSession* session, std::size_t input_held);

  private:
    void accept();
    void refuse(const std::shared_ptr<ControlSession>& session, const std::string& why);
    void note_busy(const ControlPeer& peer, const std::string& why);
    bool drop_slowest();
    void release_memory_soon();
    static ControlPeer identify(ControlStream& stream);  // the platform's half
    static void give_memory_back();                      // the platform's half
    struct Listener;  // the platform's accepting end (control_server_posix/_windows.cpp)

    boost::asio::io_context& io_;
    std::filesystem::path path_;
    std::string group_name_;
    unsigned group_id_ = 0;
    ControlHandler& handler_;
    std::unique_ptr<Listener> listener_;
    std::set<std::shared_ptr<ControlSession>> sessions_;
    ControlLimits limits_;
    std::size_t queued_output_ = 0;        // unread output of every session together
    std::size_t freed_since_release_ = 0;  // output and input, since memory was given back
    bool release_posted_ = false;
    std::shared_ptr<int> lifetime_ = std::make_shared<int>(0);  // for handlers posted by it
    std::optional<std::chrono::steady_clock::time_point> busy_logged_at_;
    std::size_t busy_unlogged_ = 0;  // refusals since the last "busy" log line
};

}  // namespace carbon
