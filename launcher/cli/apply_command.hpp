#pragma once

#include <string>
#include <vector>

namespace carbon {

/// `carbon-launcher apply [NAME...] [--dry-run] [--force]`.
int cmd_apply(const std::vector<std::string>& args);

}  // namespace carbon
