#include "sim_peers.hpp"

#ifdef __linux__
#include <unistd.h>
#endif

#include <algorithm>
#include <cstdio>
#include <utility>

#include "text_file.hpp"
#include "toml_edit.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;

namespace carbon_sim {

namespace {
namespace peers_detail {  // named apart from other files' helpers (unity builds)

using Clock = std::chrono::steady_clock;

/// True when a pack of `role` is itself the peer of `kind`: the control plane pack holds the
/// key manager and the event hub, so its key manager settings default to itself (its commented
/// `${mgt.transport.https.port}`), as the launcher assumes when it leaves them alone.
bool serves(carbon::SplitRole role, carbon::PeerKind kind) {
    switch (kind) {
        case carbon::PeerKind::ControlPlane:
            return role == carbon::SplitRole::ControlPlane;
        case carbon::PeerKind::KeyManager:
            return role == carbon::SplitRole::ControlPlane || role == carbon::SplitRole::KeyManager;
        case carbon::PeerKind::TrafficManager:
            return role == carbon::SplitRole::TrafficManager;
        case carbon::PeerKind::Gateway:
            return role == carbon::SplitRole::Gateway;
    }
    return false;
}

int port_at(const carbon::PortSpec& port, int offset) {
    return port.follows_offset ? port.base + offset : port.base;
}

void replace_every(std::string& text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

/// The placeholders of a pack's own ports that WSO2's files write in URLs, resolved the way
/// Carbon does: the port at the pack's own offset.
std::string resolve_own_ports(std::string url, const carbon::RuntimeTable& table, int offset) {
    static const std::pair<const char*, const char*> kPlaceholders[] = {
        {"${mgt.transport.https.port}", "https-servlet"},
        {"${mgt.transport.http.port}", "http-servlet"},
        {"${https.nio.port}", "gateway-https"},
        {"${http.nio.port}", "gateway-http"},
    };
    for (const auto& [placeholder, port_key] : kPlaceholders) {
        if (const carbon::PortSpec* port = table.find_port(port_key)) {
            replace_every(url, placeholder, std::to_string(port_at(*port, offset)));
        }
    }
    return url;
}

/// The URL a pack uses when its file leaves the setting out: what the shipped files write in
/// the commented-out line, localhost at the peer's shipped (unshifted) port.
std::string default_url(const carbon::RuntimeTable& table, const carbon::WiringSpec& spec) {
    const carbon::PortSpec* port = table.find_port(spec.port_key);
    if (port == nullptr) {
        return "";
    }
    std::string url = spec.format;
    replace_every(url, "{host}", "localhost");
    replace_every(url, "{port}", std::to_string(port->base));
    return url;
}

std::vector<std::string> urls_of(const carbon::TomlFound& found) {
    if (found.value) {
        if (const auto* text = std::get_if<std::string>(&*found.value)) {
            return {*text};
        }
        if (const auto* items = std::get_if<std::vector<std::string>>(&*found.value)) {
            return *items;
        }
    }
    return {found.text};  // not a URL: reported as such, never connected to
}

/// "apim.throttling.url_group[0].traffic_manager_urls": how the log names a setting.
std::string setting_path(const carbon::WiringSpec& spec, std::size_t element) {
    const std::string index =
        spec.array == carbon::ArrayElements::None ? "" : "[" + std::to_string(element) + "]";
    return spec.table + index + "." + spec.key;
}

/// Where a URL points, when it is a loopback URL with a literal port.
struct LoopbackTarget {
    std::optional<tcp::endpoint> endpoint;
    std::string why_not;  // when there is no endpoint
};

LoopbackTarget loopback_target(const std::string& url) {
    const auto scheme = url.find("://");
    if (scheme == std::string::npos) {
        return {std::nullopt, "not a URL"};
    }
    const std::size_t host_start = scheme + 3;
    const auto host_end = url.find_first_of(":/", host_start);
    const std::string host = url.substr(host_start, host_end - host_start);
    if (host != "localhost" && host != "127.0.0.1") {
        return {std::nullopt, "not a loopback address (the simulation connects on loopback only)"};
    }
    if (host_end == std::string::npos || url[host_end] != ':') {
        return {std::nullopt, "no port in the URL"};
    }
    const auto digits_end = url.find_first_not_of("0123456789", host_end + 1);
    const std::string digits = url.substr(host_end + 1, digits_end - host_end - 1);
    if (digits.empty() || digits.size() > 5 || std::stoi(digits) > 65535) {
        return {std::nullopt, "no port number in the URL"};
    }
    // API-M's JVM runs with -Djava.net.preferIPv4Stack=true [F11]: localhost is 127.0.0.1.
    return {tcp::endpoint(asio::ip::address_v4::loopback(),
                          static_cast<unsigned short>(std::stoi(digits))),
            ""};
}

std::string seconds_text(Clock::duration elapsed) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(elapsed).count());
    return text;
}

std::string default_note(const PeerUrl& peer) {
    return peer.from_default ? "not set in deployment.toml: the pack's default" : "";
}

}  // namespace peers_detail
}  // namespace

std::optional<carbon::SplitRole> role_from_start_script(const carbon::RuntimeTable& table) {
#ifdef __linux__
    // The script runs the JVM as its child [F1]: its command line is `/bin/sh HOME/bin/NAME.sh`.
    std::string error;
    const std::string cmdline =
        carbon::read_text_file("/proc/" + std::to_string(::getppid()) + "/cmdline", error)
            .value_or("");
    std::size_t start = 0;
    while (start < cmdline.size()) {
        const auto end = std::min(cmdline.find('\0', start), cmdline.size());
        const std::filesystem::path arg = cmdline.substr(start, end - start);
        if (arg.extension() == ".sh") {
            if (const auto role = table.split.role_of_script(arg.stem().string())) {
                return role;
            }
        }
        start = end + 1;
    }
#else
    (void)table;  // the sim's Windows build does not look at its parent
#endif
    return std::nullopt;
}

std::vector<PeerUrl> peer_urls(const carbon::RuntimeTable& table, carbon::SplitRole role,
                               const std::string& toml_text, const std::filesystem::path& file,
                               int own_offset) {
    using namespace peers_detail;
    const carbon::RoleWiring* wiring = table.split.find(role);
    if (wiring == nullptr) {
        return {};
    }
    const carbon::TomlDocument document(toml_text, file);
    std::vector<PeerUrl> urls;
    for (const auto& spec : wiring->settings) {
        if (spec.fixed_value) {
            continue;  // `enable = true`: nothing to connect to
        }
        const auto table_path = carbon::split_toml_path(spec.table);
        const std::size_t elements = spec.array == carbon::ArrayElements::PerPeer
                                         ? std::max<std::size_t>(1, document.array_size(table_path))
                                         : 1;
        for (std::size_t element = 0; element < elements; ++element) {
            const carbon::TomlPlace place{table_path, spec.array != carbon::ArrayElements::None,
                                          element};
            const auto found = document.find(place, spec.key);
            if (!found) {
                // Not checked: a setting the pack only has when its file sets it, and one whose
                // default is the pack itself (no peer to reach).
                if (!spec.only_if_set && !serves(role, spec.peer)) {
                    urls.push_back({setting_path(spec, element), default_url(table, spec), true});
                }
                continue;
            }
            for (const auto& url : urls_of(*found)) {
                urls.push_back({setting_path(spec, element),
                                resolve_own_ports(url, table, own_offset), false});
            }
        }
    }
    return urls;
}

/// One URL being connected to.
struct PeerConnections::Attempt {
    Attempt(asio::io_context& io, PeerUrl peer_url, tcp::endpoint target)
        : peer(std::move(peer_url)),
          endpoint(target),
          socket(io),
          attempt_timer(io),
          retry_timer(io) {}

    PeerUrl peer;
    tcp::endpoint endpoint;
    tcp::socket socket;
    asio::steady_timer attempt_timer;  // bounds one connect
    asio::steady_timer retry_timer;    // the pause before the next one
    peers_detail::Clock::time_point started;
    int tries = 0;
    bool connecting = false;
    bool timed_out = false;
};

PeerConnections::PeerConnections(asio::io_context& io, std::vector<PeerUrl> peers, Timing timing,
                                 std::function<void(const std::string&)> log)
    : io_(io), timing_(timing), log_(std::move(log)) {
    for (auto& peer : peers) {
        const auto target = peers_detail::loopback_target(peer.url);
        if (!target.endpoint) {
            log_("[carbon-sim] WARN - peer not checked " + peer.setting + " " + peer.url + ": " +
                 target.why_not);
            continue;
        }
        attempts_.push_back(std::make_unique<Attempt>(io_, std::move(peer), *target.endpoint));
    }
}

PeerConnections::~PeerConnections() = default;

void PeerConnections::start() {
    for (auto& attempt : attempts_) {
        attempt->started = peers_detail::Clock::now();
        connect(*attempt);
    }
}

void PeerConnections::stop() {
    stopped_ = true;
    for (auto& attempt : attempts_) {
        attempt->attempt_timer.cancel();
        attempt->retry_timer.cancel();
        boost::system::error_code ignored;
        attempt->socket.close(ignored);
    }
}

void PeerConnections::connect(Attempt& attempt) {
    ++attempt.tries;
    attempt.connecting = true;
    attempt.timed_out = false;
    boost::system::error_code ignored;
    attempt.socket.close(ignored);  // a fresh socket for each try
    const int this_try = attempt.tries;
    attempt.attempt_timer.expires_after(timing_.attempt_timeout);
    attempt.attempt_timer.async_wait(
        [this, &attempt, this_try](const boost::system::error_code& ec) {
            if (ec || stopped_ || !attempt.connecting || attempt.tries != this_try) {
                return;
            }
            attempt.timed_out = true;  // a peer that neither accepts nor refuses
            boost::system::error_code close_error;
            attempt.socket.close(close_error);
        });
    attempt.socket.async_connect(attempt.endpoint, [this, &attempt](boost::system::error_code ec) {
        attempt.connecting = false;
        attempt.attempt_timer.cancel();
        if (stopped_) {
            return;
        }
        if (attempt.timed_out) {
            ec = asio::error::timed_out;
        }
        if (ec) {
            on_failure(attempt, ec);
            return;
        }
        const std::string note = peers_detail::default_note(attempt.peer);
        log_("[carbon-sim] INFO - peer ok " + attempt.peer.setting + " " + attempt.peer.url +
             (note.empty() ? "" : " (" + note + ")"));
        boost::system::error_code close_error;
        attempt.socket.close(close_error);  // connected is all it checks
    });
}

void PeerConnections::on_failure(Attempt& attempt, const boost::system::error_code& error) {
    const auto now = peers_detail::Clock::now();
    // A try every retry_every over give_up_after (counted, so that timer jitter does not drop
    // the last one), and never a new one past it (tries that time out take longer).
    const auto tries_allowed = timing_.give_up_after / timing_.retry_every + 1;
    if (attempt.tries < tries_allowed && now < attempt.started + timing_.give_up_after) {
        // The peer may not be up yet (the launcher starts the packs one after another).
        attempt.retry_timer.expires_after(timing_.retry_every);
        attempt.retry_timer.async_wait([this, &attempt](const boost::system::error_code& ec) {
            if (!ec && !stopped_) {
                connect(attempt);
            }
        });
        return;
    }
    const std::string note = peers_detail::default_note(attempt.peer);
    log_("[carbon-sim] ERROR - peer unreachable " + attempt.peer.setting + " " + attempt.peer.url +
         ": " + error.message() + " (" + std::to_string(attempt.tries) + " attempts in " +
         peers_detail::seconds_text(now - attempt.started) + (note.empty() ? "" : "; " + note) +
         "); running on without it");
}

}  // namespace carbon_sim
