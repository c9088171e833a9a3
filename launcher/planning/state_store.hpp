#pragma once

#include <filesystem>

#include "offset_planner.hpp"
#include "offset_state.hpp"

namespace carbon {

/// Sticky offsets from STATE_DIR/offsets.json; empty when the file does not exist yet.
StickyOffsets load_sticky_offsets(const std::filesystem::path& state_dir);

/// Records the offsets of the plan's auto instances (explicit ones need no memory), keeping
/// entries of instances not in this plan. Written atomically.
void save_sticky_offsets(const std::filesystem::path& state_dir, const Plan& plan);

}  // namespace carbon
