// The peer connections of carbon-sim's split API-M packs (tools/SIMULATION.md [F18]): after
// startup a control plane, gateway, traffic manager or key manager reads its peers' URLs from
// its deployment.toml (the settings the launcher wires, from the runtime table's "wiring") and
// opens one TCP connection to each, retrying for a bounded time, one log line per URL. What it
// cannot reach is logged and the JVM keeps running, as WSO2's does.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "port_table.hpp"
#include "split_topology.hpp"

namespace carbon_sim {

/// One URL a pack connects to, and the setting it comes from.
struct PeerUrl {
    std::string setting;  // "apim.event_hub.service_url",
                          // "apim.throttling.url_group[0].traffic_manager_urls"
    std::string url;
    bool from_default = false;  // not set in deployment.toml: the pack's built-in default
};

/// The role of the pack whose start script runs this JVM (its parent process), by the script's
/// name as the runtime table maps it ("gateway" -> gateway); nullopt when the parent is not a
/// start script (or on a platform where the sim cannot tell).
std::optional<carbon::SplitRole> role_from_start_script(const carbon::RuntimeTable& table);

/// Every peer URL `role` reads from `toml_text` (its deployment.toml, `file` for messages), in
/// the order of the runtime table's "wiring". An absent or commented-out setting is the pack's
/// default: localhost at the peer's unshifted port; none when the peer is the pack itself (a
/// control plane's key manager), which the launcher leaves alone too. Placeholders of the pack's
/// own ports (${mgt.transport.https.port}, ...) are resolved at `own_offset`. Throws ConfigError
/// when the text is not TOML.
std::vector<PeerUrl> peer_urls(const carbon::RuntimeTable& table, carbon::SplitRole role,
                               const std::string& toml_text, const std::filesystem::path& file,
                               int own_offset);

/// Connects once to each peer URL on loopback, each retried every `retry_every` until it
/// succeeds or `give_up_after` has passed, and reports one line per URL through `log`:
/// "peer ok SETTING URL", "peer unreachable SETTING URL: ERROR (...)", or "peer not checked ..."
/// for a URL that is not on this machine. Runs on the caller's io_context; never blocks.
class PeerConnections {
  public:
    struct Timing {
        std::chrono::milliseconds give_up_after{10000};
        std::chrono::milliseconds retry_every{500};
        std::chrono::milliseconds attempt_timeout{1000};  // one connect, at most
    };

    PeerConnections(boost::asio::io_context& io, std::vector<PeerUrl> peers, Timing timing,
                    std::function<void(const std::string&)> log);
    ~PeerConnections();
    PeerConnections(const PeerConnections&) = delete;
    PeerConnections& operator=(const PeerConnections&) = delete;

    void start();
    /// Cancels what is still trying, silently (the JVM is stopping).
    void stop();

  private:
    struct Attempt;
    void connect(Attempt& attempt);
    void on_failure(Attempt& attempt, const boost::system::error_code& error);

    boost::asio::io_context& io_;
    Timing timing_;
    std::function<void(const std::string&)> log_;
    std::vector<std::unique_ptr<Attempt>> attempts_;
    bool stopped_ = false;
};

}  // namespace carbon_sim
