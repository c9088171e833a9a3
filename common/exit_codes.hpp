#pragma once

#include <stdexcept>
#include <string>

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

/// A command's failure with the exit code it means and an operator's message.
class ExitError : public std::runtime_error {
  public:
    ExitError(int exit_code, const std::string& message)
        : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

  private:
    int exit_code_;
};

}  // namespace carbon
