#include "fleet_order.hpp"

#include <algorithm>

namespace carbon {

FleetOrder::FleetOrder(std::vector<FleetMember> members, std::vector<std::string> retiring)
    : members_(std::move(members)), retiring_(std::move(retiring)) {}

const FleetMember* FleetOrder::find(const std::string& name) const {
    const auto it = std::find_if(members_.begin(), members_.end(),
                                 [&](const FleetMember& member) { return member.name == name; });
    return it == members_.end() ? nullptr : &*it;
}

// An `after` naming an instance that is not supervised (a reload removed it) holds nothing up.
bool FleetOrder::dependencies_ready(const FleetMember& member) const {
    return std::all_of(member.after.begin(), member.after.end(), [&](const std::string& name) {
        const FleetMember* dependency = find(name);
        return dependency == nullptr || dependency->state == ProcessState::Running;
    });
}

bool FleetOrder::dependents_down(const FleetMember& member) const {
    return std::none_of(members_.begin(), members_.end(), [&](const FleetMember& other) {
        const bool depends =
            std::find(other.after.begin(), other.after.end(), member.name) != other.after.end();
        return depends && (is_live(other.state) || other.has_processes);
    });
}

std::vector<std::string> FleetOrder::due_to_start() const {
    std::vector<std::string> due;
    if (!retiring_.empty()) {
        return due;
    }
    for (const auto& member : members_) {
        if (!member.ever_started && member.autostart && dependencies_ready(member)) {
            due.push_back(member.name);
        }
    }
    return due;
}

std::vector<std::string> FleetOrder::due_to_stop() const {
    std::vector<std::string> due;
    for (const auto& member : members_) {
        if ((member.wants_up || member.state == ProcessState::Backoff) && dependents_down(member)) {
            due.push_back(member.name);
        }
    }
    return due;
}

bool FleetOrder::all_down() const {
    return retiring_.empty() &&
           std::none_of(members_.begin(), members_.end(), [](const FleetMember& member) {
               return member.has_processes || is_live(member.state) || member.wants_up;
           });
}

}  // namespace carbon
