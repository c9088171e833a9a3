#pragma once

#include <string>
#include <vector>

namespace carbon {

/// `carbon-launcher run`: the foreground daemon.
int cmd_run(const std::vector<std::string>& args);

}  // namespace carbon
