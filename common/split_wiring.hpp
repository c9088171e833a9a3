#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "offset_planner.hpp"
#include "split_topology.hpp"
#include "toml_edit.hpp"

namespace carbon {

/// One peer setting of one instance, at the peers' planned offsets.
struct WiringTarget {
    const WiringSpec* spec = nullptr;
    TomlPlace place;
    std::vector<std::string> peers;  // the instances the value points at
    WiringValue wanted;
    bool self = false;                     // the instance is its own peer: only corrected
    std::size_t elements = 0;              // arrays of tables: how many the file must have
    std::vector<std::string> local_hosts;  // hosts that mean "this machine" in a current value
    std::string setting() const;           // "[apim.event_hub] service_url"
};

/// Every peer setting of `instance` at the planned offsets: its role's settings (the runtime
/// table's "wiring"), each pointing at its peers' effective ports on their "host". Empty for
/// an instance that is not a split pack, wires by hand ("connect": false), or has a peer
/// without an offset (the plan has conflicts then).
std::vector<WiringTarget> wanted_wiring(const Plan& plan, const InstancePlan& instance);

/// What happens to one setting.
enum class WiringAction {
    Set,        // written: absent, commented out, or pointing at the wrong port
    Keep,       // already right
    LeftAlone,  // the operator's own choice (another host, a placeholder host)
};
std::string to_string(WiringAction action);

struct WiringRow {
    WiringTarget target;
    std::optional<TomlFound> current;  // nullopt: absent or commented out
    WiringAction action = WiringAction::Set;
    std::string note;  // why it is left alone
};

/// The wiring of one instance against its deployment.toml: a row per setting, and what the
/// operator should know (settings left alone, a file the launcher will refuse to edit, embedded
/// databases that a split deployment cannot share).
struct WiringReview {
    std::filesystem::path file;
    std::vector<WiringRow> rows;
    std::vector<std::string> warnings;
    bool needed() const;
};

/// Decides every target against `text` (the instance's deployment.toml). Throws ConfigError
/// when the text is not TOML.
WiringReview decide_wiring(const InstancePlan& instance, const std::vector<WiringTarget>& targets,
                           const std::string& text, const std::filesystem::path& file);

/// Reads the instance's deployment.toml (never writes it) and reviews its wiring; a file that
/// cannot be read or edited becomes a warning. Empty when the instance wires nothing.
WiringReview review_wiring(const Plan& plan, const InstancePlan& instance);

/// The file the wiring of `instance` edits, or "" when it wires nothing.
std::filesystem::path wired_config_file(const Plan& plan, const InstancePlan& instance);

/// `text` with every setting that needs it written (WiringAction::Set), with the guarantees
/// of apply_toml_assignments. Throws ConfigError naming `file`; unchanged text when nothing is
/// needed.
std::string patch_wiring(const Plan& plan, const InstancePlan& instance, const std::string& text,
                         const std::filesystem::path& file);

/// A string that changes whenever the wanted wiring of `instance` changes (a reload restarts
/// an instance whose peers moved).
std::string wiring_fingerprint(const Plan& plan, const InstancePlan& instance);

}  // namespace carbon
