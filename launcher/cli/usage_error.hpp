#pragma once

#include <stdexcept>

namespace carbon {

/// A command-line mistake: printed with a pointer to --help, exit code 64.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace carbon
