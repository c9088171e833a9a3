#pragma once

#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <string>

#include "control/control_server.hpp"

namespace carbon {

/// One client connection.
class ControlSession : public std::enable_shared_from_this<ControlSession> {
  public:
    ControlSession(ControlStream stream, ControlServer& server, ControlHandler& handler,
                   ControlPeer peer);
    void start();
    void send(const nlohmann::json& message);
    void send_line(std::string line);  // one serialized message, without its newline
    /// One message shared by every client it goes to (an event), with its newline.
    void send_shared(const std::shared_ptr<const std::string>& line);
    void close();  // after the queued output has been written
    void drop();   // now
    /// Drops a client that does not read its output, saying so once in the log.
    void drop_unread(const std::string& bound);

    /// From now on receives state events; throws ProtocolError("busy") past the stream caps.
    void watch();
    /// From now on receives this instance's output; throws ProtocolError("busy") likewise.
    void follow(const std::string& name);

    bool watching() const { return watching_; }
    const std::string& following_log() const { return following_log_; }
    bool streaming() const { return watching_ || !following_log_.empty(); }
    const ControlPeer& peer() const { return peer_; }
    std::size_t queued_bytes() const { return queued_bytes_; }

  private:
    void become_stream();
    void read_request();
    void on_request(std::size_t length);
    void arm_deadline();
    bool enqueue(std::shared_ptr<const std::string> line);
    void write_next();
    void on_written();

    ControlStream socket_;
    ControlServer& server_;
    ControlHandler& handler_;
    ControlPeer peer_;
    boost::asio::steady_timer deadline_;
    std::string input_;
    std::deque<std::shared_ptr<const std::string>> output_;
    std::size_t queued_bytes_ = 0;
    bool watching_ = false;
    std::string following_log_;
    bool writing_ = false;
    bool awaiting_drain_ = false;  // the next request is read once the output has gone out
    bool closing_ = false;
    bool closed_ = false;
    std::string refusal_;  // why this peer may not use the socket, once its request is read
};

}  // namespace carbon
