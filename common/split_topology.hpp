#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "diagnostics.hpp"

namespace carbon {

class JsonFieldReader;
struct Profile;

/// What an API-M pack does in a deployment. 4.5+ ships one pack per role (api-cp.sh,
/// gateway.sh, traffic-manager.sh, key-manager.sh); api-manager.sh is all of them in one.
enum class SplitRole { AllInOne, ControlPlane, Gateway, TrafficManager, KeyManager };

/// "all-in-one", "control-plane", "gateway", "traffic-manager", "key-manager".
std::string to_string(SplitRole role);
std::optional<SplitRole> parse_split_role(const std::string& text);
/// Every role's spelling, for messages.
std::vector<std::string> split_role_names();
/// "a gateway (bin/gateway.sh)": how messages name a role.
std::string describe_role(SplitRole role);

/// The kind of peer a setting points at; also the fields of a profile's "connect".
enum class PeerKind { ControlPlane, KeyManager, TrafficManager, Gateway };
/// "control_plane", "key_manager", "traffic_manager", "gateway".
std::string to_string(PeerKind kind);

/// A value a wiring setting holds: a bool (`enable = true`), a string (a URL) or an array of
/// strings (a URL per peer).
using WiringValue = std::variant<bool, std::string, std::vector<std::string>>;

/// The value as TOML writes it: true, "https://...", ["tcp://...", "tcp://..."].
std::string to_toml(const WiringValue& value);
/// The value as a plan shows it: true, https://..., [tcp://..., tcp://...].
std::string to_display(const WiringValue& value);

/// Which elements of an array of tables ([[table]]) a setting is written into.
enum class ArrayElements {
    None,     // a plain [table]
    First,    // the array's one element (the control plane's gateway environment)
    PerPeer,  // one element per peer, in peer order ([[apim.throttling.url_group]])
};

/// One peer setting of one role, as the runtime table's "wiring" lists it.
struct WiringSpec {
    std::string table;  // dotted TOML table: "apim.event_hub"
    ArrayElements array = ArrayElements::None;
    std::string key;
    PeerKind peer = PeerKind::ControlPlane;
    std::string port_key;             // the peer's port; "" for a fixed value
    std::string format;               // "https://{host}:{port}/services/"
    bool list = false;                // an array of URLs, one per peer (else: the first peer)
    std::optional<bool> fixed_value;  // `enable = true`: a value that is not a URL
    bool only_if_set = false;         // corrected where the file sets it, never added
    std::string setting() const;      // "[apim.event_hub] service_url"
};

/// What a role wires, and where its state must be shared.
struct RoleWiring {
    std::vector<WiringSpec> settings;
    /// TOML tables of databases every pack of a split deployment must share (an embedded H2
    /// inside one home cannot be).
    std::vector<std::string> shared_databases;
    std::string sources;
};

/// The "roles" and "wiring" of a runtime table (API-M only).
struct SplitTable {
    std::map<std::string, SplitRole> script_roles;  // script stem ("gateway") -> role
    std::map<SplitRole, RoleWiring> wiring;
    bool empty() const { return script_roles.empty(); }
    /// The role of a pack started with `script` (by its stem), or nullopt.
    std::optional<SplitRole> role_of_script(const std::string& script_stem) const;
    const RoleWiring* find(SplitRole role) const;
};

/// Parses a runtime table's "roles" (`roles` reads it) and "wiring" (`wiring` reads it, may be
/// null); port keys are checked against `port_keys`. Problems go to the readers' diagnostics.
SplitTable parse_split_table(JsonFieldReader& roles, JsonFieldReader* wiring,
                             const std::vector<std::string>& port_keys);

/// A profile's "connect": the peers it names; what it leaves out is paired by default.
struct ConnectSpec {
    bool wire = true;  // "connect": false: the operator wires this instance by hand
    std::optional<std::string> control_plane;
    std::optional<std::string> key_manager;
    std::optional<std::vector<std::string>> traffic_managers;
};

/// Parses "connect" (false or an object); problems go to `reader`'s diagnostics.
ConnectSpec parse_connect(JsonFieldReader& reader);

/// The instances one instance connects to, once paired. Names; empty when not applicable.
struct SplitPeers {
    std::string control_plane;
    std::string key_manager;
    std::vector<std::string> traffic_managers;
    std::vector<std::string> gateways;  // a control plane's: the gateways that use it
    /// The instances of `kind`, in the order a setting lists them.
    std::vector<std::string> of(PeerKind kind) const;
};

/// Pairs the split-pack instances of a profile set and checks every "connect": unknown names
/// (with a suggestion), wrong roles, missing or ambiguous peers become diagnostics naming the
/// file, the field and the fix. Fills each profile's `peers`, and its `after` when the profile
/// gives none (control plane, key manager and traffic managers before the packs that use them).
void resolve_split_topology(std::vector<Profile>& profiles, std::vector<Diagnostic>& diagnostics);

}  // namespace carbon
