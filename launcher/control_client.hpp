#pragma once

#include <chrono>
#include <deque>
#include <filesystem>
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
    /// The next message, or nullopt when `timeout` passes first. Throws when the launcher hangs up.
    std::optional<nlohmann::json> receive(std::chrono::milliseconds timeout);
    /// Sends a request and returns its "result", skipping events; throws ControlClientError for
    /// an error response.
    nlohmann::json request(const nlohmann::json& message, std::chrono::milliseconds timeout);

  private:
    std::optional<nlohmann::json> receive_from_socket(std::chrono::milliseconds timeout);
    /// Appends what arrives within `left` to input_; false when nothing did. Throws when the
    /// launcher hangs up.
    bool read_more(std::chrono::milliseconds left);
    [[noreturn]] void refuse_permission() const;

#ifdef _WIN32
    void* pipe_ = nullptr;        // HANDLE, opened for overlapped I/O
    void* read_event_ = nullptr;  // HANDLE of the event a pending read signals
#else
    int fd_ = -1;
#endif
    std::filesystem::path socket_;
    std::string input_;
    std::deque<nlohmann::json> events_;  // events that arrived while a response was awaited
};

/// The control client's failures: no daemon (69), permission denied (77), an error answer.
class ControlClientError : public ExitError {
  public:
    using ExitError::ExitError;
};

}  // namespace carbon
