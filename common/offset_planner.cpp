#include "offset_planner.hpp"

#include <algorithm>
#include <array>
#include <memory>

namespace carbon {

std::string PortHolder::describe() const {
    if (!pid) {
        return "a process this user cannot see (run as root to name it)";
    }
    return "pid " + std::to_string(*pid) + " (" + (program.empty() ? "?" : program) + ")";
}

std::string to_string(OffsetSource source) {
    switch (source) {
        case OffsetSource::Explicit:
            return "explicit";
        case OffsetSource::Sticky:
            return "sticky";
        case OffsetSource::Shipped:
            return "auto, the runtime's shipped offset";
        case OffsetSource::Chosen:
            return "auto, newly chosen";
    }
    return "?";
}

const InstancePlan* Plan::find(const std::string& name) const {
    for (const auto& instance : instances) {
        if (instance.profile->name == name) {
            return &instance;
        }
    }
    return nullptr;
}

namespace {

constexpr int kNoOwner = -1;

/// Which instance (index into Plan::instances) holds each port so far, and with which port spec.
class PortLedger {
  public:
    PortLedger() { owner_.fill(kNoOwner); }

    bool is_taken(int port) const { return owner_[port] != kNoOwner; }
    int owner(int port) const { return owner_[port]; }
    const InstancePort* spec(int port) const { return spec_[port]; }
    void take(int port, int instance, const InstancePort* spec) {
        owner_[port] = instance;
        spec_[port] = spec;
    }

  private:
    std::array<int, 65536> owner_{};
    std::array<const InstancePort*, 65536> spec_{};
};

std::string port_phrase(int port, const InstancePort& spec, const std::string& instance,
                        int offset) {
    return std::to_string(port) + " (" + spec.purpose + ") of " + instance + " at offset " +
           std::to_string(offset);
}

class Planner {
  public:
    Planner(const std::vector<Profile>& profiles, const std::map<std::string, int>& sticky,
            const PortProbe& host, const PlanPreferences& preferences)
        : profiles_(profiles), sticky_(sticky), host_(host), preferences_(preferences) {
        for (const auto& profile : profiles_) {
            InstancePlan instance;
            instance.profile = &profile;
            plan_.instances.push_back(instance);
        }
    }

    Plan run() {
        place_explicit_instances();
        place_fixed_ports_of_auto_instances();
        std::vector<std::size_t> unplaced = place_sticky_instances();
        for (std::size_t i = 0; i < profiles_.size(); ++i) {
            if (!profiles_[i].offset && !sticky_.count(profiles_[i].name)) {
                unplaced.push_back(i);
            }
        }
        std::sort(unplaced.begin(), unplaced.end());
        unplaced = place_at_nonzero_shipped_offsets(unplaced);
        for (const std::size_t i : unplaced) {
            place_auto_instance(i);
        }
        return std::move(plan_);
    }

  private:
    // Explicit offsets are the operator's decision: record every clash, never move them.
    void place_explicit_instances() {
        for (std::size_t i = 0; i < profiles_.size(); ++i) {
            const Profile& profile = profiles_[i];
            if (!profile.offset) {
                continue;
            }
            auto& instance = plan_.instances[i];
            instance.offset = *profile.offset;
            instance.source = OffsetSource::Explicit;
            instance.placed = true;
            for (const auto& port : profile.ports) {
                if (port.reserved) {
                    claim_or_report(i, port, instance.offset);
                }
            }
        }
    }

    // A port the offset does not move cannot be fixed by choosing an offset: claim these
    // before any auto offset is chosen, so moving ports steer around them.
    void place_fixed_ports_of_auto_instances() {
        for (std::size_t i = 0; i < profiles_.size(); ++i) {
            if (profiles_[i].offset) {
                continue;
            }
            for (const auto& port : profiles_[i].ports) {
                if (port.reserved && !port.follows_offset) {
                    claim_or_report(i, port, 0);
                }
            }
        }
    }

    std::vector<std::size_t> place_sticky_instances() {
        std::vector<std::size_t> dropped;
        for (std::size_t i = 0; i < profiles_.size(); ++i) {
            const Profile& profile = profiles_[i];
            const auto it = sticky_.find(profile.name);
            if (profile.offset || it == sticky_.end()) {
                continue;
            }
            const std::string blocker = why_offset_does_not_fit(profile, it->second);
            if (blocker.empty()) {
                assign(i, it->second, OffsetSource::Sticky);
            } else {
                plan_.instances[i].note =
                    "previous offset " + std::to_string(it->second) + " dropped: " + blocker;
                dropped.push_back(i);
            }
        }
        return dropped;
    }

    // A runtime that ships a non-zero offset (SI Tooling: 3, editor on 9390) is where operators
    // and its docs expect it; give it that offset before others fill the low offsets.
    std::vector<std::size_t> place_at_nonzero_shipped_offsets(
        const std::vector<std::size_t>& pending) {
        std::vector<std::size_t> rest;
        for (const std::size_t i : pending) {
            const Profile& profile = profiles_[i];
            const int shipped = profile.table != nullptr ? profile.table->shipped_offset : 0;
            if (shipped != 0 && shipped <= profile.max_offset() &&
                why_offset_does_not_fit(profile, shipped).empty()) {
                assign(i, shipped, OffsetSource::Shipped);
            } else {
                rest.push_back(i);
            }
        }
        return rest;
    }

    void place_auto_instance(std::size_t i) {
        const Profile& profile = profiles_[i];
        const int shipped = profile.table != nullptr ? profile.table->shipped_offset : 0;
        const Blocker blocker = find_blocker(profile, shipped);
        if (preferences_.ephemeral && place_outside_ephemeral_range(i, shipped, blocker.reason)) {
            return;
        }
        if (shipped <= profile.max_offset() && blocker.reason.empty()) {
            assign(i, shipped, OffsetSource::Shipped);
            return;
        }
        // Other instances pushing each other up is expected; a foreign process doing it is
        // worth telling the operator, who may not know that it runs.
        if (blocker.foreign && plan_.instances[i].note.empty()) {
            plan_.instances[i].note =
                "offset " + std::to_string(shipped) + " skipped: " + blocker.reason;
        }
        const int max_offset = profile.max_offset();
        // The ledger only grows while auto instances are placed, so an offset that did not fit
        // an earlier instance with the same ports never fits a later one: start the search
        // where the last one of this shape ended. This keeps 1000 identical packs linear.
        int& lowest_possible = search_start_[port_shape(profile)];
        for (int offset = lowest_possible; offset <= max_offset; ++offset) {
            if (offset_fits(profile, offset)) {
                lowest_possible = offset;
                assign(i, offset, OffsetSource::Chosen);
                return;
            }
        }
        lowest_possible = max_offset + 1;
        Conflict conflict;
        conflict.kind = ConflictKind::NoOffset;
        conflict.instance = profile.name;
        conflict.message = profile.name + ": no offset from 0 to " +
                           std::to_string(profile.max_offset()) +
                           " keeps every port free and within 65535; stop some instances, free "
                           "host ports or set explicit offsets";
        plan_.conflicts.push_back(conflict);
    }

    /// The preference pass: the shipped offset if it fits and stays out of the ephemeral range,
    /// else the first such offset. False when there is none (the caller then ignores the range).
    bool place_outside_ephemeral_range(std::size_t i, int shipped,
                                       const std::string& shipped_blocker) {
        const Profile& profile = profiles_[i];
        const auto& shape = port_shape(profile);
        const std::vector<bool>& avoids = offsets_avoiding_range(shape, profile.max_offset());
        if (shipped <= profile.max_offset() && shipped_blocker.empty() && avoids[shipped]) {
            assign(i, shipped, OffsetSource::Shipped);
            return true;
        }
        // As in place_auto_instance: an offset that did not fit once never fits again.
        int& lowest = avoiding_search_start_[shape];
        for (int offset = lowest; offset < static_cast<int>(avoids.size()); ++offset) {
            if (avoids[offset] && offset_fits(profile, offset)) {
                lowest = offset;
                if (offset != shipped && plan_.instances[i].note.empty()) {
                    plan_.instances[i].note =
                        "offset " + std::to_string(shipped) + " skipped: " +
                        (shipped_blocker.empty()
                             ? "its ports lie in the host's ephemeral port range"
                             : shipped_blocker);
                }
                assign(i, offset, OffsetSource::Chosen);
                return true;
            }
        }
        lowest = static_cast<int>(avoids.size());
        return false;
    }

    /// For each offset up to `max_offset`: true when no moving port of `shape` lands on a port
    /// an outgoing connection may take. Computed once per shape.
    const std::vector<bool>& offsets_avoiding_range(const std::vector<int>& shape, int max_offset) {
        auto [it, inserted] = avoiding_offsets_.try_emplace(shape);
        if (inserted) {
            it->second.assign(static_cast<std::size_t>(std::max(max_offset, -1) + 1), true);
            for (int offset = 0; offset <= max_offset; ++offset) {
                for (const int base : shape) {
                    if (preferences_.exposed(base + offset)) {
                        it->second[static_cast<std::size_t>(offset)] = false;
                        break;
                    }
                }
            }
        }
        return it->second;
    }

    /// Empty when every moving port of `profile` at `offset` is in range and free.
    std::string why_offset_does_not_fit(const Profile& profile, int offset) const {
        return find_blocker(profile, offset).reason;
    }

    /// The bases of the ports an offset moves: instances with the same shape fit the same offsets.
    static std::vector<int> port_shape(const Profile& profile) {
        std::vector<int> shape;
        for (const auto& port : profile.ports) {
            if (port.reserved && port.follows_offset) {
                shape.push_back(port.base);
            }
        }
        std::sort(shape.begin(), shape.end());
        return shape;
    }

    /// The hot path of the search: no strings, first taken port wins.
    bool offset_fits(const Profile& profile, int offset) const {
        for (const auto& port : profile.ports) {
            if (!port.reserved || !port.follows_offset) {
                continue;
            }
            const int effective = port.base + offset;
            if (effective > 65535 || ledger_.is_taken(effective) || host_.is_held(effective) ||
                preferences_.unbindable_range(effective) != nullptr) {
                return false;
            }
        }
        return true;
    }

    struct Blocker {
        std::string reason;    // empty: the offset fits
        bool foreign = false;  // held by a process outside the plan
    };

    Blocker find_blocker(const Profile& profile, int offset) const {
        for (const auto& port : profile.ports) {
            if (!port.reserved || !port.follows_offset) {
                continue;
            }
            const int effective = port.base + offset;
            // This runs for every candidate offset of every instance: build text only on a miss.
            const auto what = [&] { return std::to_string(effective) + " (" + port.purpose + ")"; };
            if (effective > 65535) {
                return {what() + " is past 65535"};
            }
            if (ledger_.is_taken(effective)) {
                return {what() + " is taken by " +
                        plan_.instances[ledger_.owner(effective)].profile->name};
            }
            if (host_.is_held(effective)) {
                return {what() + " is held by " + host_.holder(effective).describe(), true};
            }
            if (const PortRange* range = preferences_.unbindable_range(effective)) {
                return {what() + " lies in the excluded port range " +
                            std::to_string(range->first) + "-" + std::to_string(range->last) +
                            ", where no program can bind",
                        true};
            }
        }
        return {};
    }

    void assign(std::size_t i, int offset, OffsetSource source) {
        auto& instance = plan_.instances[i];
        instance.offset = offset;
        instance.source = source;
        instance.placed = true;
        for (const auto& port : profiles_[i].ports) {
            if (port.reserved && port.follows_offset) {
                ledger_.take(port.base + offset, static_cast<int>(i), &port);
            }
        }
        fill_ports(instance);
    }

    void claim_or_report(std::size_t i, const InstancePort& port, int offset) {
        const Profile& profile = profiles_[i];
        const int effective = port.effective(offset);
        if (ledger_.is_taken(effective)) {
            report_instance_clash(i, port, offset, effective);
        } else if (host_.is_held(effective)) {
            report_host_clash(profile, port, offset, effective);
        } else {
            ledger_.take(effective, static_cast<int>(i), &port);
        }
        fill_ports(plan_.instances[i]);
    }

    void report_instance_clash(std::size_t i, const InstancePort& port, int offset, int effective) {
        const Profile& profile = profiles_[i];
        const auto& other = plan_.instances[ledger_.owner(effective)];
        const InstancePort& other_port = *ledger_.spec(effective);
        Conflict conflict;
        conflict.instance = profile.name;
        conflict.port = effective;
        conflict.purpose = port.purpose;
        conflict.other_instance = other.profile->name;
        conflict.other_purpose = other_port.purpose;
        conflict.message = port_phrase(effective, port, profile.name, offset) + " collides with " +
                           other.profile->name + " (" + other_port.purpose + ")";
        if (!port.follows_offset && !other_port.follows_offset) {
            conflict.kind = ConflictKind::FixedPort;
            conflict.message +=
                "; the offset does not move this port, so no offset solves it: change " +
                (port.config_key.empty() ? "the port" : port.config_key) +
                " in one of the two homes (or in \"ports\" of the profile)";
        } else {
            conflict.kind = ConflictKind::Instances;
            conflict.message += "; choose another \"offset\" or set it to \"auto\"";
        }
        plan_.conflicts.push_back(conflict);
    }

    void report_host_clash(const Profile& profile, const InstancePort& port, int offset,
                           int effective) {
        Conflict conflict;
        conflict.kind = ConflictKind::Host;
        conflict.instance = profile.name;
        conflict.port = effective;
        conflict.purpose = port.purpose;
        conflict.holder = host_.holder(effective);
        conflict.message =
            port_phrase(effective, port, profile.name, offset) + " is held by " +
            conflict.holder->describe() + "; stop that process or " +
            (port.follows_offset
                 ? "choose another \"offset\""
                 : "change " + (port.config_key.empty() ? "the port" : port.config_key));
        plan_.conflicts.push_back(conflict);
    }

    static void fill_ports(InstancePlan& instance) {
        instance.ports.clear();
        for (const auto& port : instance.profile->ports) {
            if (port.reserved) {
                instance.ports.push_back({&port, port.effective(instance.offset)});
            }
        }
    }

    const std::vector<Profile>& profiles_;
    const std::map<std::string, int>& sticky_;
    const PortProbe& host_;
    const PlanPreferences& preferences_;
    std::map<std::vector<int>, std::vector<bool>> avoiding_offsets_;
    std::map<std::vector<int>, int> avoiding_search_start_;
    Plan plan_;
    PortLedger ledger_;
    std::map<std::vector<int>, int> search_start_;
};

}  // namespace

bool PlanPreferences::exposed(int port) const {
    return ephemeral && ephemeral->contains(port) &&
           std::none_of(reserved.begin(), reserved.end(),
                        [port](const PortRange& range) { return range.contains(port); });
}

const PortRange* PlanPreferences::unbindable_range(int port) const {
    const auto it = std::find_if(unbindable.begin(), unbindable.end(),
                                 [port](const PortRange& range) { return range.contains(port); });
    return it == unbindable.end() ? nullptr : &*it;
}

Plan plan_offsets(const std::vector<Profile>& profiles, const std::map<std::string, int>& sticky,
                  const PortProbe& host, const PlanPreferences& preferences) {
    // The ledger is two 64K-entry arrays: keep it off the stack.
    auto planner = std::make_unique<Planner>(profiles, sticky, host, preferences);
    return planner->run();
}

}  // namespace carbon
