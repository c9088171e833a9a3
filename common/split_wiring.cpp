#include "split_wiring.hpp"

#include <algorithm>
#include <set>

#include "diagnostics.hpp"
#include "profile.hpp"
#include "text_file.hpp"

namespace carbon {

std::string WiringTarget::setting() const {
    return place.describe() + " " + spec->key;
}

std::string to_string(WiringAction action) {
    switch (action) {
        case WiringAction::Set:
            return "set";
        case WiringAction::Keep:
            return "keep";
        case WiringAction::LeftAlone:
            return "left-alone";
    }
    return "?";
}

bool WiringReview::needed() const {
    return std::any_of(rows.begin(), rows.end(),
                       [](const WiringRow& row) { return row.action == WiringAction::Set; });
}

namespace {
namespace wiring_detail {  // named apart from other files' helpers (unity builds)

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return text;
}

std::string list_names(const std::vector<std::string>& names) {
    std::string text;
    for (const auto& name : names) {
        text += (text.empty() ? "" : ", ") + name;
    }
    return text;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

/// The URL of `spec` on `peer`: its host (an IPv6 literal in brackets), its effective port.
std::optional<std::string> peer_url(const WiringSpec& spec, const InstancePlan& peer) {
    const InstancePort* port = peer.profile->find_port(spec.port_key);
    if (port == nullptr) {
        return std::nullopt;
    }
    std::string host = peer.profile->host;
    if (host.find(':') != std::string::npos && host.front() != '[') {
        host = "[" + host + "]";
    }
    std::string url = spec.format;
    replace_all(url, "{host}", host);
    replace_all(url, "{port}", std::to_string(port->effective(peer.offset)));
    return url;
}

/// The host of "scheme://host:port/...", lower case; "" when the text is not such a URL.
std::string url_host(const std::string& url) {
    const auto scheme = url.find("://");
    if (scheme == std::string::npos) {
        return "";
    }
    const std::size_t start = scheme + 3;
    if (start < url.size() && url[start] == '[') {
        const auto close = url.find(']', start);
        return lowercase(
            url.substr(start, close == std::string::npos ? url.npos : close - start + 1));
    }
    const auto end = url.find_first_of(":/", start);
    return lowercase(url.substr(start, end == std::string::npos ? url.npos : end - start));
}

/// The digits of the URL's port, or "" (no port, or a ${...} placeholder).
std::string url_port(const std::string& url) {
    const std::string host = url_host(url);
    const auto scheme = url.find("://");
    if (scheme == std::string::npos) {
        return "";
    }
    const std::size_t colon = scheme + 3 + host.size();
    if (colon >= url.size() || url[colon] != ':') {
        return "";
    }
    std::size_t end = colon + 1;
    while (end < url.size() && url[end] >= '0' && url[end] <= '9') {
        ++end;
    }
    return url.substr(colon + 1, end - colon - 1);
}

std::vector<std::string> urls_in(const TomlFound& found) {
    if (!found.value) {
        return {};
    }
    if (const auto* text = std::get_if<std::string>(&*found.value)) {
        return {*text};
    }
    if (const auto* items = std::get_if<std::vector<std::string>>(&*found.value)) {
        return *items;
    }
    return {};
}

/// Why a current value is the operator's own and must stay, or "".
std::string foreign_reason(const WiringTarget& target, const TomlFound& current) {
    for (const auto& url : urls_in(current)) {
        const std::string host = url_host(url);
        if (host.find('$') != std::string::npos) {
            return "its host " + host + " is a placeholder, resolved by the runtime";
        }
        if (!host.empty() && std::find(target.local_hosts.begin(), target.local_hosts.end(),
                                       host) == target.local_hosts.end()) {
            return "it points at " + host + ", not this machine";
        }
    }
    return "";
}

/// A setting whose peer is the instance itself is the pack's own business (its default is
/// itself), unless the file writes a local URL with a literal port: that one must follow the
/// offset like any other.
bool self_setting_to_check(const TomlFound& current) {
    const auto urls = urls_in(current);
    return urls.size() == 1 && !url_port(urls.front()).empty();
}

void decide_row(WiringRow& row) {
    if (!row.current) {
        row.action = WiringAction::Set;
        return;
    }
    if (!row.target.spec->fixed_value) {
        if (const std::string reason = foreign_reason(row.target, *row.current); !reason.empty()) {
            row.action = WiringAction::LeftAlone;
            row.note = reason;
            return;
        }
    }
    row.action = row.current->value == row.target.wanted ? WiringAction::Keep : WiringAction::Set;
}

/// "[database.apim_db], [database.shared_db] use the embedded H2 ...", or "".
std::string embedded_database_warning(const RoleWiring& wiring, const TomlDocument& document) {
    std::vector<std::string> embedded;
    for (const auto& table : wiring.shared_databases) {
        const TomlPlace place{split_toml_path(table), false, 0};
        const auto type = document.find(place, "type");
        const auto url = document.find(place, "url");
        if ((type && lowercase(type->text) == "h2") ||
            (url && lowercase(url->text).rfind("jdbc:h2:", 0) == 0)) {
            embedded.push_back("[" + table + "]");
        }
    }
    if (embedded.empty()) {
        return "";
    }
    return list_names(embedded) + (embedded.size() == 1 ? " is" : " are") +
           " the embedded H2 database inside this home, which no other pack can open; the packs "
           "of a split deployment share their databases, so wiring alone does not make them "
           "work together: create the databases on one server (MySQL, PostgreSQL, Oracle, SQL "
           "Server) and point every pack's deployment.toml at it";
}

std::string peer_words(PeerKind kind) {
    switch (kind) {
        case PeerKind::ControlPlane:
            return "control plane";
        case PeerKind::KeyManager:
            return "key manager";
        case PeerKind::TrafficManager:
            return "traffic manager";
        case PeerKind::Gateway:
            return "gateway";
    }
    return "peer";
}

/// The arrays of tables the targets need, with the number of elements each must have. An array
/// whose every setting is left alone is the operator's and is not shaped.
std::vector<TomlArrayShape> array_shapes(const WiringReview& review) {
    std::vector<TomlArrayShape> shapes;
    std::set<std::vector<std::string>> seen;
    for (const auto& row : review.rows) {
        const WiringTarget& target = row.target;
        if (!target.place.array_of_tables || seen.count(target.place.table)) {
            continue;
        }
        const bool all_left_alone =
            std::all_of(review.rows.begin(), review.rows.end(), [&](const WiringRow& other) {
                return other.target.place.table != target.place.table ||
                       other.action == WiringAction::LeftAlone;
            });
        if (all_left_alone) {
            continue;
        }
        seen.insert(target.place.table);
        TomlArrayShape shape;
        shape.table = target.place.table;
        shape.count = target.elements;
        shape.create = target.spec->array == ArrayElements::PerPeer;
        std::vector<std::string> peers;
        for (const auto& other : review.rows) {
            if (other.target.place.table == target.place.table &&
                std::find(peers.begin(), peers.end(), other.target.peers.front()) == peers.end()) {
                peers.insert(peers.end(), other.target.peers.begin(), other.target.peers.end());
            }
        }
        shape.why = shape.create
                        ? "one per " + peer_words(target.spec->peer) + ": " + list_names(peers)
                        : "one, for the " + peer_words(target.spec->peer) + " " + list_names(peers);
        shapes.push_back(shape);
    }
    return shapes;
}

}  // namespace wiring_detail
}  // namespace

std::vector<WiringTarget> wanted_wiring(const Plan& plan, const InstancePlan& instance) {
    using namespace wiring_detail;
    const Profile& profile = *instance.profile;
    if (!instance.placed || !profile.role || !profile.connect.wire || profile.table == nullptr) {
        return {};
    }
    const RoleWiring* wiring = profile.table->split.find(*profile.role);
    if (wiring == nullptr) {
        return {};
    }
    std::vector<std::string> local_hosts = {"localhost", "127.0.0.1", "::1", "[::1]",
                                            lowercase(profile.host)};
    std::vector<WiringTarget> targets;
    for (const auto& spec : wiring->settings) {
        const std::vector<std::string> names = profile.peers.of(spec.peer);
        std::vector<const InstancePlan*> peers;
        for (const auto& name : names) {
            const InstancePlan* peer = plan.find(name);
            if (peer == nullptr || !peer->placed) {
                return {};  // the plan has conflicts: nothing is written anyway
            }
            peers.push_back(peer);
            local_hosts.push_back(lowercase(peer->profile->host));
        }
        std::vector<std::string> urls;
        for (const InstancePlan* peer : peers) {
            if (!spec.fixed_value) {
                const auto url = peer_url(spec, *peer);
                if (!url) {
                    return {};
                }
                urls.push_back(*url);
            }
        }
        if (peers.empty()) {
            continue;  // a control plane without gateways, say
        }
        const auto make = [&](std::size_t element, std::vector<std::string> target_peers,
                              WiringValue wanted) {
            WiringTarget target;
            target.spec = &spec;
            target.place = {split_toml_path(spec.table), spec.array != ArrayElements::None,
                            element};
            target.self = target_peers == std::vector<std::string>{profile.name};
            target.peers = std::move(target_peers);
            target.wanted = std::move(wanted);
            target.elements = spec.array == ArrayElements::PerPeer ? peers.size() : 1;
            targets.push_back(std::move(target));
        };
        if (spec.fixed_value) {
            make(0, {names.front()}, *spec.fixed_value);
        } else if (spec.array == ArrayElements::PerPeer) {
            for (std::size_t i = 0; i < peers.size(); ++i) {
                make(i, {names[i]},
                     spec.list ? WiringValue(std::vector<std::string>{urls[i]})
                               : WiringValue(urls[i]));
            }
        } else if (spec.list) {
            make(0, names, urls);
        } else {
            make(0, {names.front()}, urls.front());
        }
    }
    std::sort(local_hosts.begin(), local_hosts.end());
    local_hosts.erase(std::unique(local_hosts.begin(), local_hosts.end()), local_hosts.end());
    for (auto& target : targets) {
        target.local_hosts = local_hosts;
    }
    return targets;
}

WiringReview decide_wiring(const InstancePlan& instance, const std::vector<WiringTarget>& targets,
                           const std::string& text, const std::filesystem::path& file) {
    using namespace wiring_detail;
    WiringReview review;
    review.file = file;
    const TomlDocument document(text, file);
    for (const auto& target : targets) {
        WiringRow row;
        row.target = target;
        row.current = document.find(target.place, target.spec->key);
        if ((target.self || target.spec->only_if_set) && !row.current) {
            continue;  // the pack's own default stands
        }
        if (target.self && !self_setting_to_check(*row.current)) {
            continue;
        }
        decide_row(row);
        if (row.action == WiringAction::LeftAlone) {
            review.warnings.push_back(row.target.setting() + " = " + row.current->text + ": " +
                                      row.note +
                                      "; left alone (point it at localhost for the "
                                      "launcher to wire it)");
        }
        review.rows.push_back(std::move(row));
    }
    const Profile& profile = *instance.profile;
    const RoleWiring* wiring = profile.role && profile.table != nullptr
                                   ? profile.table->split.find(*profile.role)
                                   : nullptr;
    if (wiring != nullptr) {
        if (const std::string warning = embedded_database_warning(*wiring, document);
            !warning.empty()) {
            review.warnings.push_back(warning);
        }
    }
    if (profile.peers.gateways.size() > 1) {
        std::vector<std::string> others(profile.peers.gateways.begin() + 1,
                                        profile.peers.gateways.end());
        review.warnings.push_back(
            "the gateway environment advertises " + profile.peers.gateways.front() + "'s URLs; " +
            list_names(others) +
            " serve the same APIs without being advertised (to advertise a load balancer in "
            "front of them, write its URLs by hand and set \"connect\": false)");
    }
    return review;
}

std::filesystem::path wired_config_file(const Plan& plan, const InstancePlan& instance) {
    if (wanted_wiring(plan, instance).empty()) {
        return {};
    }
    return instance.profile->home / instance.profile->table->config_file;
}

namespace {
namespace wiring_detail {

std::string patch_reviewed(const WiringReview& review, const std::string& text) {
    std::vector<TomlAssignment> assignments;
    for (const auto& row : review.rows) {
        if (row.action == WiringAction::Set) {
            assignments.push_back({row.target.place, row.target.spec->key, row.target.wanted});
        }
    }
    return apply_toml_assignments(text, array_shapes(review), assignments, review.file);
}

}  // namespace wiring_detail
}  // namespace

std::string patch_wiring(const Plan& plan, const InstancePlan& instance, const std::string& text,
                         const std::filesystem::path& file) {
    const auto targets = wanted_wiring(plan, instance);
    if (targets.empty()) {
        return text;
    }
    return wiring_detail::patch_reviewed(decide_wiring(instance, targets, text, file), text);
}

WiringReview review_wiring(const Plan& plan, const InstancePlan& instance) {
    const auto targets = wanted_wiring(plan, instance);
    const Profile& profile = *instance.profile;
    if (targets.empty()) {
        WiringReview review;
        if (profile.role && *profile.role != SplitRole::AllInOne &&
            *profile.role != SplitRole::ControlPlane && profile.connect.wire &&
            profile.peers.control_plane.empty()) {
            review.warnings.push_back(
                "no control plane in this directory to connect to: the peer settings in " +
                profile.table->config_file +
                " are left as they are; add the control plane's profile here, or name it in "
                "\"connect\", for the launcher to wire them");
        }
        return review;
    }
    const auto file = profile.home / profile.table->config_file;
    std::string error;
    const auto text = read_text_file(file, error);
    if (!text) {
        WiringReview review;
        review.file = file;
        review.warnings.push_back(file.string() + ": " + error +
                                  "; the peer settings cannot be written without it");
        return review;
    }
    WiringReview review;
    try {
        review = decide_wiring(instance, targets, *text, file);
        wiring_detail::patch_reviewed(review, *text);  // what apply would refuse, said now
    } catch (const ConfigError& e) {
        review.file = file;
        review.warnings.push_back("apply cannot wire this file: " + std::string(e.what()));
    }
    return review;
}

std::string wiring_fingerprint(const Plan& plan, const InstancePlan& instance) {
    std::string fingerprint;
    for (const auto& target : wanted_wiring(plan, instance)) {
        fingerprint += target.setting() + "=" + to_toml(target.wanted) + ";";
    }
    return fingerprint;
}

}  // namespace carbon
