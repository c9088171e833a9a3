#include "control_limits.hpp"

namespace carbon {
namespace {

std::string user_text(const ControlLimits::User& user) {
    return "uid " + std::to_string(user.value_or(0));
}

// The fix named in every refusal: streams are the long-lived clients an operator can end.
const char* const kStreamClients = "`carbon-launcher logs -f`, `--wait` or `wait-ready` clients";

}  // namespace

ControlLimits::Counts ControlLimits::of(const User& user) const {
    if (!user) {
        return {};
    }
    const auto it = users_.find(*user);
    return it == users_.end() ? Counts{} : it->second;
}

std::optional<std::string> ControlLimits::refuse_connection(const User& user) const {
    if (clients_ >= caps_.clients) {
        return "the launcher already serves " + std::to_string(caps_.clients) +
               " clients, its cap on connections; retry in a moment, and if it persists find "
               "what holds them open (ss -xp shows the socket's peers)";
    }
    if (user && of(user).clients >= caps_.clients_per_user) {
        return user_text(user) + " already holds " + std::to_string(caps_.clients_per_user) +
               " connections, the per-user cap; end that user's idle or stuck clients (ss -xp "
               "shows them) and retry";
    }
    return std::nullopt;
}

std::optional<std::string> ControlLimits::refuse_stream(const User& user) const {
    if (streams_ >= caps_.streams) {
        return std::to_string(caps_.streams) +
               " clients already watch or follow logs, the cap on those (the rest of the " +
               std::to_string(caps_.clients) + " connections stay free for status, start, stop); " +
               "end some " + kStreamClients + " and retry";
    }
    if (user && of(user).streams >= caps_.streams_per_user) {
        return user_text(user) + " already has " + std::to_string(caps_.streams_per_user) +
               " clients that watch or follow logs, the per-user cap on those; end some of its " +
               kStreamClients + " and retry";
    }
    return std::nullopt;
}

void ControlLimits::connected(const User& user) {
    ++clients_;
    if (user) {
        ++users_[*user].clients;
    }
}

void ControlLimits::started_streaming(const User& user) {
    ++streams_;
    if (user) {
        ++users_[*user].streams;
    }
}

void ControlLimits::disconnected(const User& user, bool streaming) {
    --clients_;
    streams_ -= streaming ? 1 : 0;
    if (!user) {
        return;
    }
    const auto it = users_.find(*user);
    if (it == users_.end()) {
        return;
    }
    --it->second.clients;
    it->second.streams -= streaming ? 1 : 0;
    if (it->second.clients == 0) {
        users_.erase(it);  // forget users that have gone: the map stays as small as the table
    }
}

}  // namespace carbon
