// The platform-neutral half of the control client: framing, events, paging and errors.
// Connecting, sending and reading are in control_client_posix.cpp / control_client_windows.cpp.
#include "control/control_client.hpp"

#include <algorithm>

#include "control_protocol.hpp"
#include "exit_codes.hpp"

namespace carbon {
namespace {

using std::chrono::milliseconds;

/// How long a client whose request could not be sent still listens for the launcher's reason.
constexpr milliseconds kReasonWait{1000};

/// One line from the launcher, checked for the protocol version before anything else.
nlohmann::json parse_line(const std::string& line) {
    nlohmann::json message;
    try {
        message = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
        throw ControlClientError(kExitSoftware,
                                 "the launcher sent a line that is not JSON; use the "
                                 "carbon-launcher CLI installed with it");
    }
    try {
        check_reply_version(message);
    } catch (const ProtocolError& e) {
        throw ControlClientError(kExitUnavailable, e.what());
    }
    return message;
}

int exit_code_for(const std::string& code) {
    if (code == "unknown-instance" || code == "bad-request") {
        return kExitUsage;
    }
    if (code == "busy" || code == "bad-version" || code == "shutting-down") {
        return kExitUnavailable;
    }
    return kExitFailure;
}

}  // namespace

std::optional<nlohmann::json> ControlClient::receive(milliseconds timeout) {
    if (!events_.empty()) {
        auto event = std::move(events_.front());
        events_.pop_front();
        return event;
    }
    return receive_from_socket(timeout);
}

std::optional<nlohmann::json> ControlClient::receive_from_socket(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (const auto newline = input_.find('\n'); newline != std::string::npos) {
            const std::string line = input_.substr(0, newline);
            input_.erase(0, newline + 1);
            return parse_line(line);
        }
        const auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !read_more(left)) {
            return std::nullopt;
        }
    }
}

nlohmann::json ControlClient::request(const nlohmann::json& message, milliseconds timeout) {
    try {
        send(message);
    } catch (const ControlConnectionClosed&) {
        explain_failed_send(std::current_exception());
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        auto reply = receive_from_socket(std::max(left, milliseconds(0)));
        if (!reply) {
            throw ControlClientError(kExitUnavailable, "the launcher did not answer within " +
                                                           std::to_string(timeout.count() / 1000) +
                                                           " s");
        }
        if (reply->contains("event")) {
            events_.push_back(std::move(*reply));  // for the caller's next receive()
            continue;
        }
        return result_of(std::move(*reply));
    }
}

void ControlClient::explain_failed_send(const std::exception_ptr& failure) {
    std::optional<nlohmann::json> reply;
    try {
        reply = receive_from_socket(kReasonWait);
    } catch (const ControlConnectionClosed&) {
        // nothing was said: the failed send is the news
    }
    if (reply && !reply->contains("event") && !reply->value("ok", true)) {
        result_of(std::move(*reply));  // throws the launcher's own error, e.g. busy
    }
    std::rethrow_exception(failure);
}

nlohmann::json ControlClient::result_of(nlohmann::json reply) {
    if (!reply.value("ok", false)) {
        const auto& error = reply["error"];
        const std::string code = error.value("code", "error");
        if (code == "permission-denied") {
            refuse_permission();
        }
        throw ControlClientError(exit_code_for(code), error.value("message", code));
    }
    return std::move(reply["result"]);
}

nlohmann::json ControlClient::request_all_pages(const std::string& command,
                                                const std::vector<std::string>& names,
                                                milliseconds timeout_per_page) {
    nlohmann::json whole;
    std::string cursor;
    // Ends: every page's cursor must sort after the last (append_status_page checks it), and
    // the launcher has finitely many instances.
    for (;;) {
        auto page = request(control_page_request(command, names, cursor), timeout_per_page);
        std::optional<std::string> next;
        try {
            next = append_status_page(whole, std::move(page), cursor);
        } catch (const ProtocolError& e) {
            throw ControlClientError(kExitSoftware, e.what());
        }
        if (!next) {
            return whole;
        }
        cursor = std::move(*next);
    }
}

}  // namespace carbon
