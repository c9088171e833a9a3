#pragma once

namespace carbon {

/// Process exit codes, after BSD sysexits.h so scripts can tell failures apart.
enum ExitCode : int {
    kExitOk = 0,
    kExitFailure = 1,        // an instance failed or an operation did not complete
    kExitUsage = 64,         // the command line is wrong
    kExitUnavailable = 69,   // a port conflict, or the daemon / a resource is unavailable
    kExitSoftware = 70,      // an internal error (a bug)
    kExitIo = 74,            // a file could not be read or written
    kExitNoPermission = 77,  // not allowed to use the control socket
    kExitConfig = 78,        // a profile, port table or config file is invalid
};

}  // namespace carbon
