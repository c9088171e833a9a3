#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

namespace carbon {

/// How many control clients the launcher serves at once. Two kinds share the table: clients
/// that make requests (status, start, stop, ...; dropped after 10 s without a complete request)
/// and streams (watch, logs -f), which may stay for days and are exempt from that timeout. Caps
/// are per kind and per user, so that neither streams nor one user can take every slot.
struct ControlCaps {
    /// Every connection. Each costs a descriptor and a little memory.
    std::size_t clients = 256;
    /// One user's connections: half the table, so one user (or its stuck scripts) never locks
    /// the others out.
    std::size_t clients_per_user = 128;
    /// Watchers and log followers together: half the table, so the other half is always left
    /// for short requests.
    std::size_t streams = 128;
    /// One user's streams: half its share, so a user's own watchers leave it room for requests.
    std::size_t streams_per_user = 64;
};

/// Counts control clients by user and kind, and says who may join. Pure (no sockets), so that
/// the policy is tested on its own. A user is a uid; where the platform does not say (a Windows
/// pipe, whose access list already admits only administrators and the control group) the
/// per-user caps do not apply.
class ControlLimits {
  public:
    using User = std::optional<unsigned>;

    explicit ControlLimits(ControlCaps caps = {}) : caps_(caps) {}

    /// Why a new connection of `user` is refused ("busy"), naming the cap and what to do; empty
    /// when it may join.
    std::optional<std::string> refuse_connection(const User& user) const;
    /// Why a connection of `user` may not become a watcher or log follower; empty when it may.
    std::optional<std::string> refuse_stream(const User& user) const;

    void connected(const User& user);
    void started_streaming(const User& user);
    void disconnected(const User& user, bool streaming);

    std::size_t clients() const { return clients_; }
    std::size_t streams() const { return streams_; }
    const ControlCaps& caps() const { return caps_; }

  private:
    struct Counts {
        std::size_t clients = 0;
        std::size_t streams = 0;
    };
    Counts of(const User& user) const;

    ControlCaps caps_;
    std::size_t clients_ = 0;
    std::size_t streams_ = 0;
    std::map<unsigned, Counts> users_;  // only users with a connection: bounded by `clients`
};

}  // namespace carbon
