#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace carbon {

/// A command-line mistake: printed with a pointer to --help, exit code 64.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A command's failure with the exit code it means (exit_codes.hpp) and an operator's message.
class ExitError : public std::runtime_error {
  public:
    ExitError(int exit_code, const std::string& message)
        : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

  private:
    int exit_code_;
};

/// Parses argv, runs one subcommand and returns the process exit code. Every error that
/// reaches here is printed once as "carbon-launcher: error: ...".
int run_cli(int argc, char** argv);

}  // namespace carbon
