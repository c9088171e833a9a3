#include "split_topology.hpp"

#include <algorithm>

#include "json_reader.hpp"
#include "profile.hpp"

namespace carbon {

std::string to_string(SplitRole role) {
    switch (role) {
        case SplitRole::AllInOne:
            return "all-in-one";
        case SplitRole::ControlPlane:
            return "control-plane";
        case SplitRole::Gateway:
            return "gateway";
        case SplitRole::TrafficManager:
            return "traffic-manager";
        case SplitRole::KeyManager:
            return "key-manager";
    }
    return "?";
}

std::vector<std::string> split_role_names() {
    return {"all-in-one", "control-plane", "gateway", "traffic-manager", "key-manager"};
}

std::optional<SplitRole> parse_split_role(const std::string& text) {
    for (const SplitRole role : {SplitRole::AllInOne, SplitRole::ControlPlane, SplitRole::Gateway,
                                 SplitRole::TrafficManager, SplitRole::KeyManager}) {
        if (to_string(role) == text) {
            return role;
        }
    }
    return std::nullopt;
}

std::string describe_role(SplitRole role) {
    switch (role) {
        case SplitRole::AllInOne:
            return "an all-in-one pack (bin/api-manager.sh)";
        case SplitRole::ControlPlane:
            return "a control plane (bin/api-cp.sh)";
        case SplitRole::Gateway:
            return "a gateway (bin/gateway.sh)";
        case SplitRole::TrafficManager:
            return "a traffic manager (bin/traffic-manager.sh)";
        case SplitRole::KeyManager:
            return "a key manager (bin/key-manager.sh)";
    }
    return "?";
}

std::string to_string(PeerKind kind) {
    switch (kind) {
        case PeerKind::ControlPlane:
            return "control_plane";
        case PeerKind::KeyManager:
            return "key_manager";
        case PeerKind::TrafficManager:
            return "traffic_manager";
        case PeerKind::Gateway:
            return "gateway";
    }
    return "?";
}

namespace {
namespace split_text {  // named apart from other files' helpers (unity builds)

std::string quote_toml(const std::string& text) {
    std::string quoted = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            quoted += '\\';
        }
        quoted += c;
    }
    return quoted + "\"";
}

std::string join_items(const std::vector<std::string>& items, const std::string& separator) {
    std::string text;
    for (const auto& item : items) {
        text += (text.empty() ? "" : separator) + item;
    }
    return text;
}

}  // namespace split_text
}  // namespace

std::string to_toml(const WiringValue& value) {
    if (const bool* flag = std::get_if<bool>(&value)) {
        return *flag ? "true" : "false";
    }
    if (const auto* text = std::get_if<std::string>(&value)) {
        return split_text::quote_toml(*text);
    }
    std::vector<std::string> quoted;
    for (const auto& item : std::get<std::vector<std::string>>(value)) {
        quoted.push_back(split_text::quote_toml(item));
    }
    return "[" + split_text::join_items(quoted, ", ") + "]";
}

std::string to_display(const WiringValue& value) {
    if (const bool* flag = std::get_if<bool>(&value)) {
        return *flag ? "true" : "false";
    }
    if (const auto* text = std::get_if<std::string>(&value)) {
        return *text;
    }
    return "[" + split_text::join_items(std::get<std::vector<std::string>>(value), ", ") + "]";
}

std::string WiringSpec::setting() const {
    return (array == ArrayElements::None ? "[" + table + "] " : "[[" + table + "]] ") + key;
}

std::optional<SplitRole> SplitTable::role_of_script(const std::string& script_stem) const {
    const auto it = script_roles.find(script_stem);
    return it == script_roles.end() ? std::nullopt : std::optional<SplitRole>(it->second);
}

const RoleWiring* SplitTable::find(SplitRole role) const {
    const auto it = wiring.find(role);
    return it == wiring.end() ? nullptr : &it->second;
}

std::vector<std::string> SplitPeers::of(PeerKind kind) const {
    switch (kind) {
        case PeerKind::ControlPlane:
            return control_plane.empty() ? std::vector<std::string>{}
                                         : std::vector<std::string>{control_plane};
        case PeerKind::KeyManager:
            return key_manager.empty() ? std::vector<std::string>{}
                                       : std::vector<std::string>{key_manager};
        case PeerKind::TrafficManager:
            return traffic_managers;
        case PeerKind::Gateway:
            return gateways;
    }
    return {};
}

// ---- the runtime table's "roles" and "wiring" ----

namespace {
namespace split_parse {

std::optional<PeerKind> parse_peer_kind(const std::string& text) {
    for (const PeerKind kind : {PeerKind::ControlPlane, PeerKind::KeyManager,
                                PeerKind::TrafficManager, PeerKind::Gateway}) {
        if (to_string(kind) == text) {
            return kind;
        }
    }
    return std::nullopt;
}

WiringSpec parse_setting(JsonFieldReader& reader, const std::vector<std::string>& port_keys) {
    WiringSpec spec;
    spec.table =
        reader.required_string("table", "give the dotted TOML table, e.g. \"apim.event_hub\"");
    spec.key = reader.required_string("key", "give the TOML key, e.g. \"service_url\"");
    const std::string array = reader.string("array", "");
    if (array == "first") {
        spec.array = ArrayElements::First;
    } else if (array == "per_peer") {
        spec.array = ArrayElements::PerPeer;
    } else if (!array.empty()) {
        reader.error("array", "expected \"first\" or \"per_peer\" (or no field for a [table])");
    }
    const std::string peer = reader.required_string(
        "peer", "name the peer: control_plane, key_manager, traffic_manager or gateway");
    if (const auto kind = parse_peer_kind(peer)) {
        spec.peer = *kind;
    } else if (!peer.empty()) {
        reader.error("peer", "\"" + peer +
                                 "\" is not a peer; use control_plane, key_manager, "
                                 "traffic_manager or gateway");
    }
    spec.only_if_set = reader.boolean("only_if_set", false);
    if (const auto* value = reader.child("value")) {
        if (value->is_boolean()) {
            spec.fixed_value = value->get<bool>();
        } else {
            reader.error("value", "a fixed value must be true or false");
        }
        reader.reject_unknown_keys({"table", "key", "array", "peer", "value", "only_if_set"});
        return spec;
    }
    spec.port_key = reader.required_string("port", "name the peer's port, e.g. \"https-servlet\"");
    if (!spec.port_key.empty() &&
        std::find(port_keys.begin(), port_keys.end(), spec.port_key) == port_keys.end()) {
        reader.error("port", "no port \"" + spec.port_key + "\" in this table" +
                                 did_you_mean(spec.port_key, port_keys));
    }
    spec.format = reader.required_string("format", "give the URL, e.g. \"https://{host}:{port}/\"");
    if (spec.format.find("{host}") == std::string::npos ||
        spec.format.find("{port}") == std::string::npos) {
        reader.error("format", "a URL format needs both {host} and {port}");
    }
    spec.list = reader.boolean("list", false);
    reader.reject_unknown_keys(
        {"table", "key", "array", "peer", "port", "format", "list", "only_if_set"});
    return spec;
}

RoleWiring parse_role_wiring(JsonFieldReader& reader, const std::vector<std::string>& port_keys) {
    RoleWiring wiring;
    wiring.sources = reader.string("sources");
    if (const auto* settings = reader.child("settings");
        settings != nullptr && settings->is_array()) {
        for (std::size_t i = 0; i < settings->size(); ++i) {
            JsonFieldReader item((*settings)[i], reader.file(),
                                 reader.pointer_to("settings") + "/" + std::to_string(i),
                                 reader.diagnostics());
            wiring.settings.push_back(parse_setting(item, port_keys));
        }
    } else {
        reader.error("settings", "expected an array of settings");
    }
    wiring.shared_databases = reader.string_list("shared_databases");
    reader.reject_unknown_keys({"settings", "shared_databases", "sources"});
    return wiring;
}

}  // namespace split_parse
}  // namespace

SplitTable parse_split_table(JsonFieldReader& roles, JsonFieldReader* wiring,
                             const std::vector<std::string>& port_keys) {
    SplitTable table;
    if (const auto* scripts = roles.child("scripts"); scripts != nullptr && scripts->is_object()) {
        for (const auto& [stem, role_text] : scripts->items()) {
            const auto role = role_text.is_string() ? parse_split_role(role_text.get<std::string>())
                                                    : std::nullopt;
            if (!role) {
                roles.diagnostics().push_back(
                    {roles.file(), roles.pointer_to("scripts") + "/" + json_pointer_token(stem),
                     "expected one of: " + split_text::join_items(split_role_names(), ", ")});
                continue;
            }
            table.script_roles[stem] = *role;
        }
    } else {
        roles.error("scripts", "expected an object of script name: role");
    }
    roles.reject_unknown_keys({"scripts", "sources"});
    if (wiring == nullptr) {
        return table;
    }
    for (const auto& role_name : split_role_names()) {
        const auto* entry = wiring->child(role_name);
        if (entry == nullptr) {
            continue;
        }
        JsonFieldReader role_reader(*entry, wiring->file(), wiring->pointer_to(role_name),
                                    wiring->diagnostics());
        table.wiring[*parse_split_role(role_name)] =
            split_parse::parse_role_wiring(role_reader, port_keys);
    }
    std::vector<std::string> known = split_role_names();
    known.push_back("sources");
    wiring->reject_unknown_keys(known);
    return table;
}

ConnectSpec parse_connect(JsonFieldReader& reader) {
    ConnectSpec connect;
    const auto* value = reader.child("connect");
    if (value == nullptr) {
        return connect;
    }
    if (value->is_boolean() && !value->get<bool>()) {
        connect.wire = false;
        return connect;
    }
    if (!value->is_object()) {
        reader.error("connect",
                     "expected an object such as {\"control_plane\": \"acp-1\"}, or false to wire "
                     "this instance by hand; found " +
                         json_type_name(*value));
        return connect;
    }
    JsonFieldReader sub(*value, reader.file(), reader.pointer_to("connect"), reader.diagnostics());
    if (sub.has("control_plane")) {
        connect.control_plane = sub.string("control_plane");
    }
    if (sub.has("key_manager")) {
        connect.key_manager = sub.string("key_manager");
    }
    if (sub.has("traffic_managers")) {
        connect.traffic_managers = sub.string_list("traffic_managers");
        if (sub.child("traffic_managers")->is_array() && connect.traffic_managers->empty()) {
            sub.error("traffic_managers",
                      "name at least one traffic manager, or remove the field to pair them "
                      "by default");
        }
    }
    sub.reject_unknown_keys({"control_plane", "key_manager", "traffic_managers"});
    return connect;
}

// ---- pairing ----

namespace {
namespace pairing {

bool is_split(const Profile& profile) {
    return profile.role && *profile.role != SplitRole::AllInOne;
}

bool takes_part(const Profile& profile) {
    return is_split(profile) && profile.connect.wire;
}

/// One "connect" field: the roles it may name and how messages call them.
struct PeerField {
    std::string name;  // "control_plane"
    std::vector<SplitRole> roles;
    std::string what;  // "a control plane (bin/api-cp.sh)"
};

const PeerField kControlPlaneField{
    "control_plane", {SplitRole::ControlPlane}, "a control plane (bin/api-cp.sh)"};
const PeerField kKeyManagerField{"key_manager",
                                 {SplitRole::KeyManager, SplitRole::ControlPlane},
                                 "a key manager (bin/key-manager.sh) or a control plane"};
const PeerField kTrafficManagersField{"traffic_managers",
                                      {SplitRole::TrafficManager, SplitRole::ControlPlane},
                                      "a traffic manager (bin/traffic-manager.sh) or a control "
                                      "plane"};

/// The connect fields a role may give.
std::vector<const PeerField*> fields_of(SplitRole role) {
    switch (role) {
        case SplitRole::Gateway:
            return {&kControlPlaneField, &kKeyManagerField, &kTrafficManagersField};
        case SplitRole::TrafficManager:
            return {&kControlPlaneField, &kKeyManagerField};
        case SplitRole::KeyManager:
            return {&kControlPlaneField};
        case SplitRole::ControlPlane:
            return {&kKeyManagerField};
        case SplitRole::AllInOne:
            break;
    }
    return {};
}

class Pairing {
  public:
    Pairing(std::vector<Profile>& profiles, std::vector<Diagnostic>& diagnostics)
        : profiles_(profiles), diagnostics_(diagnostics) {
        for (auto& profile : profiles_) {
            if (!profile.name.empty() && !by_name_.count(profile.name)) {
                by_name_[profile.name] = &profile;
                names_.push_back(profile.name);
            }
        }
    }

    void run() {
        for (auto& profile : profiles_) {
            if (takes_part(profile)) {
                check_fields_allowed(profile);
            }
        }
        for (auto& profile : profiles_) {
            if (takes_part(profile) && *profile.role != SplitRole::ControlPlane) {
                resolve_control_plane(profile);
            }
        }
        for (auto& profile : profiles_) {
            if (takes_part(profile) && *profile.role != SplitRole::KeyManager) {
                resolve_key_manager(profile);
            }
        }
        for (auto& profile : profiles_) {
            if (takes_part(profile) && *profile.role == SplitRole::Gateway) {
                resolve_traffic_managers(profile);
            }
        }
        for (auto& profile : profiles_) {
            if (takes_part(profile) && *profile.role == SplitRole::ControlPlane) {
                profile.peers.gateways = using_control_plane(profile.name, SplitRole::Gateway);
                check_advertised_urls(profile);
            }
        }
        for (auto& profile : profiles_) {
            if (takes_part(profile) && !profile.after_given) {
                profile.after = default_after(profile);
            }
        }
    }

  private:
    void report(const Profile& profile, const std::string& pointer, const std::string& message) {
        diagnostics_.push_back({profile.source, pointer, message});
    }

    std::vector<std::string> names_with_roles(const std::vector<SplitRole>& roles) const {
        std::vector<std::string> found;
        for (const auto& name : names_) {
            const Profile& other = *by_name_.at(name);
            if (other.role && std::find(roles.begin(), roles.end(), *other.role) != roles.end()) {
                found.push_back(name);
            }
        }
        std::sort(found.begin(), found.end());
        return found;
    }

    /// Instances of `role` paired with the control plane `control_plane`, by name.
    std::vector<std::string> using_control_plane(const std::string& control_plane,
                                                 SplitRole role) const {
        std::vector<std::string> found;
        for (const auto& profile : profiles_) {
            if (takes_part(profile) && *profile.role == role &&
                profile.peers.control_plane == control_plane) {
                found.push_back(profile.name);
            }
        }
        std::sort(found.begin(), found.end());
        return found;
    }

    void check_fields_allowed(const Profile& profile) {
        const auto allowed = fields_of(*profile.role);
        const auto given = [&](const PeerField& field) {
            return (&field == &kControlPlaneField && profile.connect.control_plane) ||
                   (&field == &kKeyManagerField && profile.connect.key_manager) ||
                   (&field == &kTrafficManagersField && profile.connect.traffic_managers);
        };
        for (const PeerField* field :
             {&kControlPlaneField, &kKeyManagerField, &kTrafficManagersField}) {
            if (given(*field) &&
                std::find(allowed.begin(), allowed.end(), field) == allowed.end()) {
                report(profile, "/connect/" + field->name,
                       describe_role(*profile.role) + " has no setting that points at " +
                           field->what + "; remove \"" + field->name + "\"");
            }
        }
    }

    /// Checks a name given in "connect"; true when it names an instance of the field's roles.
    bool check_name(const Profile& profile, const std::string& pointer, const std::string& name,
                    const PeerField& field) {
        const auto candidates = names_with_roles(field.roles);
        const std::string choose =
            candidates.empty()
                ? "; there is none in this directory: add its profile"
                : "; name " + field.what + ": " + split_text::join_items(candidates, ", ");
        if (name == profile.name) {
            report(profile, pointer, "\"" + name + "\" is this instance itself" + choose);
            return false;
        }
        const auto it = by_name_.find(name);
        if (it == by_name_.end()) {
            report(profile, pointer,
                   "no instance named \"" + name + "\"" + did_you_mean(name, names_) + choose);
            return false;
        }
        const Profile& other = *it->second;
        if (!other.role ||
            std::find(field.roles.begin(), field.roles.end(), *other.role) == field.roles.end()) {
            const std::string is =
                other.role ? describe_role(*other.role) : "a " + other.runtime + " instance";
            report(profile, pointer, "\"" + name + "\" is " + is + ", not " + field.what + choose);
            return false;
        }
        return true;
    }

    // No control plane in the directory: a pack whose peers run elsewhere, wired by hand. It is
    // left unpaired (plan says so); naming a missing one in "connect" is an error.
    void resolve_control_plane(Profile& profile) {
        if (const auto& named = profile.connect.control_plane) {
            if (check_name(profile, "/connect/control_plane", *named, kControlPlaneField)) {
                profile.peers.control_plane = *named;
            }
            return;
        }
        const auto control_planes = names_with_roles({SplitRole::ControlPlane});
        if (control_planes.size() == 1) {
            profile.peers.control_plane = control_planes.front();
        } else if (!control_planes.empty()) {
            report(profile, "/connect",
                   std::to_string(control_planes.size()) + " control planes (" +
                       split_text::join_items(control_planes, ", ") + ") could serve " +
                       describe_role(*profile.role) +
                       "; name one: \"connect\": {\"control_plane\": \"" + control_planes.front() +
                       "\"}");
        }
    }

    void resolve_key_manager(Profile& profile) {
        if (const auto& named = profile.connect.key_manager) {
            if (check_name(profile, "/connect/key_manager", *named, kKeyManagerField)) {
                profile.peers.key_manager = *named;
            }
            return;
        }
        const std::string control_plane =
            *profile.role == SplitRole::ControlPlane ? profile.name : profile.peers.control_plane;
        if (control_plane.empty()) {
            return;  // reported already
        }
        const auto key_managers = using_control_plane(control_plane, SplitRole::KeyManager);
        if (key_managers.size() > 1) {
            report(profile, "/connect",
                   std::to_string(key_managers.size()) + " key managers (" +
                       split_text::join_items(key_managers, ", ") + ") use the control plane " +
                       control_plane +
                       "; name the one this instance uses: \"connect\": "
                       "{\"key_manager\": \"" +
                       key_managers.front() + "\"}");
            return;
        }
        // The control plane is its own key manager unless a key-manager pack serves it.
        profile.peers.key_manager = key_managers.empty() ? control_plane : key_managers.front();
    }

    void resolve_traffic_managers(Profile& profile) {
        if (const auto& named = profile.connect.traffic_managers) {
            std::vector<std::string> accepted;
            for (std::size_t i = 0; i < named->size(); ++i) {
                const std::string pointer = "/connect/traffic_managers/" + std::to_string(i);
                const std::string& name = (*named)[i];
                if (std::find(accepted.begin(), accepted.end(), name) != accepted.end()) {
                    report(profile, pointer, "\"" + name + "\" is named twice; remove one");
                } else if (check_name(profile, pointer, name, kTrafficManagersField)) {
                    accepted.push_back(name);
                }
            }
            profile.peers.traffic_managers = accepted;
            return;
        }
        if (profile.peers.control_plane.empty()) {
            return;
        }
        auto traffic_managers =
            using_control_plane(profile.peers.control_plane, SplitRole::TrafficManager);
        // Without a traffic-manager pack, the control plane throttles (WSO2's charts point the
        // gateway's throttling at the control plane's service by default).
        profile.peers.traffic_managers = traffic_managers.empty()
                                             ? std::vector<std::string>{profile.peers.control_plane}
                                             : traffic_managers;
    }

    // A control plane's ws_endpoint & co. name its gateway's ports, which the wiring sets; the
    // all-in-one option would move them to the control plane's own ports instead.
    void check_advertised_urls(const Profile& profile) {
        if (profile.update_advertised_urls && !profile.peers.gateways.empty()) {
            report(profile, "/update_advertised_urls",
                   "this control plane's gateway URLs (ws_endpoint, https_endpoint, ...) point "
                   "at its gateway " +
                       profile.peers.gateways.front() +
                       ", which the launcher wires; this option would move them to the control "
                       "plane's own ports: remove it");
        }
    }

    std::vector<std::string> default_after(const Profile& profile) const {
        std::vector<std::string> after;
        const auto add = [&](const std::string& name) {
            if (!name.empty() && name != profile.name &&
                std::find(after.begin(), after.end(), name) == after.end()) {
                after.push_back(name);
            }
        };
        if (*profile.role == SplitRole::ControlPlane) {
            return after;
        }
        add(profile.peers.control_plane);
        if (*profile.role != SplitRole::KeyManager) {
            add(profile.peers.key_manager);
        }
        for (const auto& name : profile.peers.traffic_managers) {
            add(name);
        }
        return after;
    }

    std::vector<Profile>& profiles_;
    std::vector<Diagnostic>& diagnostics_;
    std::map<std::string, Profile*> by_name_;
    std::vector<std::string> names_;
};

}  // namespace pairing
}  // namespace

void resolve_split_topology(std::vector<Profile>& profiles, std::vector<Diagnostic>& diagnostics) {
    pairing::Pairing(profiles, diagnostics).run();
}

}  // namespace carbon
