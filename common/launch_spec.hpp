#pragma once

#include <string>
#include <vector>

#include "profile.hpp"

namespace carbon {

/// The exact argv that starts one instance at `offset`, without a shell: the start script in
/// the foreground (never --start, which daemonizes and discards output), -DportOffset for
/// API-M when the method is "argument", then the profile's args.
std::vector<std::string> launch_argv(const Profile& profile, int offset,
                                     Platform platform = host_platform());

/// argv as one line a person can paste into a shell.
std::string shell_quote_join(const std::vector<std::string>& argv);

}  // namespace carbon
