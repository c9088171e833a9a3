#pragma once

#include <string>
#include <vector>

#include "process_state.hpp"

namespace carbon {

/// What the supervisor knows of one instance when it decides what to start or stop next.
struct FleetMember {
    std::string name;
    std::vector<std::string> after;  // the instances that must be Running before it starts
    ProcessState state = ProcessState::Stopped;
    bool wants_up = false;       // started and not asked to stop
    bool has_processes = false;  // a process of its run may still exist
    bool ever_started = false;
    bool autostart = true;
};

/// The supervisor's ordering rules, without processes: which instances start now (`after` order;
/// an instance a reload added or replaced waits until every retiring group is gone) and which
/// stop now during a shutdown (reverse `after` order; independent instances in parallel).
class FleetOrder {
  public:
    /// `members` are the current instances; `retiring` are the names of instances replaced or
    /// removed by a reload whose processes may still exist.
    FleetOrder(std::vector<FleetMember> members, std::vector<std::string> retiring);

    /// Never started, autostart, every instance it comes `after` Running, nothing retiring: the
    /// new plan may give it ports that any retiring group still holds (its predecessor's, or
    /// those of an instance the plan moved to another offset or removed).
    std::vector<std::string> due_to_start() const;
    /// Up or waiting to retry, and every instance that comes after it is down.
    std::vector<std::string> due_to_stop() const;
    /// Nothing runs, nothing wants to, and no retiring instance is left.
    bool all_down() const;

  private:
    const FleetMember* find(const std::string& name) const;
    bool dependencies_ready(const FleetMember& member) const;
    bool dependents_down(const FleetMember& member) const;

    std::vector<FleetMember> members_;
    std::vector<std::string> retiring_;
};

}  // namespace carbon
