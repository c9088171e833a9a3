#pragma once

#include "process_state.hpp"

namespace carbon {

/// Decodes a POSIX wait status (waitpid) into an exit code or a signal.
ExitStatus exit_status_from_wait(int status);

}  // namespace carbon
