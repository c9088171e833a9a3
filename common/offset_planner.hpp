#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "profile.hpp"

namespace carbon {

/// An inclusive port range, as /proc/sys/net/ipv4/ip_local_port_range and
/// ip_local_reserved_ports write them.
struct PortRange {
    int first = 0;
    int last = 0;
    bool contains(int port) const { return port >= first && port <= last; }
};

/// Port ranges the planner weighs besides the listeners. The host's ephemeral range minus the
/// ports reserved from it is kept clear when an offset allows (an outgoing connection may take
/// an unreserved port before a JVM binds it). Unbindable ranges are never used by an auto or
/// sticky offset: Windows' excluded ranges that are not administered, which Hyper-V, WSL or
/// Docker's NAT take at boot and where no program can bind although none listens. (An explicit
/// offset is not moved: `check` fails it under excluded-ports, which refuses run and apply.)
struct PlanPreferences {
    std::optional<PortRange> ephemeral;
    std::vector<PortRange> reserved;
    std::vector<PortRange> unbindable;
    /// True when `port` may be taken by an outgoing connection.
    bool exposed(int port) const;
    /// The unbindable range that holds `port`, or null.
    const PortRange* unbindable_range(int port) const;
};

/// Who holds a port on the host, as far as we could see.
struct PortHolder {
    std::optional<int> pid;  // empty: the socket is listed but its owner is not visible to us
    std::string program;
    std::string describe() const;
};

/// The host as the planner sees it; the real one reads /proc, tests fake it.
class PortProbe {
  public:
    virtual ~PortProbe() = default;
    virtual bool is_held(int port) const = 0;
    virtual PortHolder holder(int port) const = 0;
};

/// A host with nothing listening.
class EmptyHost : public PortProbe {
  public:
    bool is_held(int) const override { return false; }
    PortHolder holder(int) const override { return {}; }
};

enum class OffsetSource { Explicit, Sticky, Shipped, Chosen };
std::string to_string(OffsetSource source);

struct PlannedPort {
    const InstancePort* spec = nullptr;
    int port = 0;
};

struct InstancePlan {
    const Profile* profile = nullptr;
    int offset = 0;
    OffsetSource source = OffsetSource::Chosen;
    bool placed = false;             // false: no offset fits (see the plan's conflicts)
    std::string note;                // why a sticky offset was dropped, etc.
    std::vector<PlannedPort> ports;  // every reserved port
};

enum class ConflictKind { Instances, FixedPort, Host, NoOffset };

struct Conflict {
    ConflictKind kind = ConflictKind::Instances;
    std::string instance;
    int port = 0;
    std::string purpose;
    std::string other_instance;  // for Instances / FixedPort
    std::string other_purpose;
    std::optional<PortHolder> holder;  // for Host
    std::string message;               // a complete sentence for the operator
};

struct Plan {
    std::vector<InstancePlan> instances;  // in profile (name) order
    std::vector<Conflict> conflicts;
    bool ok() const { return conflicts.empty(); }
    const InstancePlan* find(const std::string& name) const;
};

/// Picks one offset per instance. Explicit offsets are checked, never moved; `auto` instances
/// keep their sticky offset while it fits, else take the runtime's shipped offset if it fits,
/// else the smallest offset that fits. Deterministic for the same inputs.
/// With `preferences`, an auto instance takes the first fitting offset (its shipped one
/// included) whose ports stay out of the ephemeral range, and only when none exists the first
/// that fits; an offset with a port in an unbindable range never fits.
Plan plan_offsets(const std::vector<Profile>& profiles, const std::map<std::string, int>& sticky,
                  const PortProbe& host, const PlanPreferences& preferences = {});

}  // namespace carbon
