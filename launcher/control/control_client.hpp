#pragma once

#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "exit_codes.hpp"

namespace carbon {

/// The CLI's side of the control socket: one connection, one JSON object per line.
class ControlClient {
  public:
    /// Connects; throws ControlClientError with an operator-facing message (daemon not running,
    /// permission denied with the group that grants access).
    explicit ControlClient(const std::filesystem::path& socket);
    ~ControlClient();
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;

    void send(const nlohmann::json& message);
    /// The next message, or nullopt when `timeout` passes first. Throws when the launcher hangs
    /// up, or speaks another protocol version.
    std::optional<nlohmann::json> receive(std::chrono::milliseconds timeout);
    /// Sends a request and returns its "result", skipping events; throws ControlClientError for
    /// an error response.
    nlohmann::json request(const nlohmann::json& message, std::chrono::milliseconds timeout);
    /// status or watch: requests every page and returns them as one result, as if the launcher
    /// had answered in one reply.
    nlohmann::json request_all_pages(const std::string& command,
                                     const std::vector<std::string>& names,
                                     std::chrono::milliseconds timeout_per_page);

  private:
    std::optional<nlohmann::json> receive_from_socket(std::chrono::milliseconds timeout);
    /// The reply to a request whose send failed: the launcher may have refused the connection
    /// (busy) and closed it before the request arrived, and its reason is worth more than EPIPE.
    [[noreturn]] void explain_failed_send(const std::exception_ptr& failure);
    nlohmann::json result_of(nlohmann::json reply);
    /// Appends what arrives within `left` to input_; false when nothing did. Throws when the
    /// launcher hangs up.
    bool read_more(std::chrono::milliseconds left);
    [[noreturn]] void refuse_permission() const;

    struct Native;  // the platform's connection (control_client_posix/_windows.cpp)
    std::unique_ptr<Native> native_;
    std::filesystem::path socket_;
    std::string input_;
    std::deque<nlohmann::json> events_;  // events that arrived while a response was awaited
};

/// The control client's failures: no daemon (69), permission denied (77), an error answer.
class ControlClientError : public ExitError {
  public:
    using ExitError::ExitError;
};

/// The launcher closed the connection (69).
class ControlConnectionClosed : public ControlClientError {
  public:
    ControlConnectionClosed()
        : ControlClientError(kExitUnavailable, "the launcher closed the connection") {}
};

}  // namespace carbon
