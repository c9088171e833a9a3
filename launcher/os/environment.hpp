#pragma once

#include <map>
#include <string>

namespace carbon {

/// The launcher's own environment as a map (the input of child_environment()).
std::map<std::string, std::string> current_environment();

}  // namespace carbon
