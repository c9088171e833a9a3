#pragma once

#include "exit_codes.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace carbon {

/// Parses argv, runs one subcommand and returns the process exit code. Every error that
/// reaches here is printed once as "carbon-launcher: error: ...".
int run_cli(int argc, char** argv);

}  // namespace carbon
