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

/// A Windows argv from launch_argv ({"cmd.exe", "/d", "/c", SCRIPT, ARGS...}) as the one
/// command line CreateProcess takes. cmd.exe has its own rules, not the C runtime's: with /s it
/// strips the outer pair of quotes and runs the rest as typed, so the script and every argument
/// with a space or one of & | < > ^ ( ) , ; = is quoted. A `"` or `%` in an argument cannot be
/// passed through cmd.exe intact (kCmdExeUnpassable; profile validation refuses it first):
/// std::invalid_argument names the argument.
std::string windows_command_line(const std::vector<std::string>& argv);

/// argv as one line a person can paste into a shell.
std::string shell_quote_join(const std::vector<std::string>& argv);

}  // namespace carbon
