#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "offset_planner.hpp"

namespace carbon {

/// One config file's planned change: its text before and after.
struct ConfigFileEdit {
    const InstancePlan* instance = nullptr;
    std::filesystem::path file;
    std::string before;
    std::string after;
    bool changes() const { return before != after; }
};

/// Reads and patches (in memory, verified) the config file of every instance that needs one:
/// its offset, and for the packs of a split API-M deployment the peer settings at the offsets
/// of `plan` (which `instances` point into). All are computed before any is written: one bad
/// file and ConfigError lists every problem.
std::vector<ConfigFileEdit> compute_config_edits(const Plan& plan,
                                                 const std::vector<const InstancePlan*>& instances,
                                                 bool force);

/// Writes the edits that change something (backup once, atomic replace); returns how many.
std::size_t write_config_edits(const std::vector<ConfigFileEdit>& edits);

}  // namespace carbon
