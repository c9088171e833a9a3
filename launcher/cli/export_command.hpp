#pragma once

#include <string>
#include <vector>

namespace carbon {

/// `carbon-launcher export systemd [--out DIR]`: one unit per instance, for operators who prefer
/// systemd itself to supervise each runtime.
int cmd_export(const std::vector<std::string>& args);

}  // namespace carbon
