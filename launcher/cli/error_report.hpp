#pragma once

#include <string>
#include <vector>

namespace carbon {

/// What an exception that ended a command means to an operator: the exit code (sysexits, see
/// exit_codes.hpp) and the lines to print. The one mapping from exception to exit code, shared
/// by the CLI and the Windows service, so a failure exits the same way wherever it happens.
struct ErrorReport {
    int exit_code = 0;
    bool internal = false;              // a bug, not the operator's input or the host
    std::vector<std::string> messages;  // one per line, without the "error: " prefix
};

/// Classifies the exception being handled; call only inside a catch block.
ErrorReport report_current_exception();

}  // namespace carbon
