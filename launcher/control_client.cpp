// The platform-neutral half of the control client: framing, events and errors. Connecting,
// sending and reading are in control_client_posix.cpp / control_client_windows.cpp.
#include <algorithm>

#include "control_client.hpp"
#include "exit_codes.hpp"

namespace carbon {

std::optional<nlohmann::json> ControlClient::receive(std::chrono::milliseconds timeout) {
    if (!events_.empty()) {
        auto event = std::move(events_.front());
        events_.pop_front();
        return event;
    }
    return receive_from_socket(timeout);
}

std::optional<nlohmann::json> ControlClient::receive_from_socket(
    std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (const auto newline = input_.find('\n'); newline != std::string::npos) {
            const std::string line = input_.substr(0, newline);
            input_.erase(0, newline + 1);
            return nlohmann::json::parse(line);
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        if (!read_more(left)) {
            return std::nullopt;
        }
    }
}

nlohmann::json ControlClient::request(const nlohmann::json& message,
                                      std::chrono::milliseconds timeout) {
    send(message);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        const auto reply = receive_from_socket(std::max(left, std::chrono::milliseconds(0)));
        if (!reply) {
            throw ControlClientError(kExitUnavailable, "the launcher did not answer within " +
                                                           std::to_string(timeout.count() / 1000) +
                                                           " s");
        }
        if (reply->contains("event")) {
            events_.push_back(std::move(*reply));  // for the caller's next receive()
            continue;
        }
        if (!reply->value("ok", false)) {
            const auto& error = (*reply)["error"];
            const std::string code = error.value("code", "error");
            if (code == "permission-denied") {
                refuse_permission();
            }
            const int exit_code =
                code == "unknown-instance" || code == "bad-request" ? kExitUsage : kExitFailure;
            throw ControlClientError(exit_code, error.value("message", code));
        }
        return (*reply)["result"];
    }
}

}  // namespace carbon
