#pragma once

#include <string>
#include <vector>

#include "profile.hpp"

namespace carbon {

/// The home's tmp folder must be a real folder before a Windows batch start script runs.
///
/// WSO2's .bat files wipe tmp blindly: `cd "%CARBON_HOME%\tmp"`, then `del *.* /s /q` and
/// `FOR /d ... rmdir /s /q` in whatever the current folder is. When tmp is missing (or is a
/// file) the `cd` fails, the current folder is still the home, and the whole pack is deleted;
/// when tmp is a link or junction, the folder it points to is emptied. The .sh scripts wipe only
/// `if [ -d "$TMP_DIR" ]`, so nothing here applies to them.

/// True when the profile starts through a batch file (.bat or .cmd, in any case).
bool starts_through_batch_file(const Profile& profile);

/// For a batch start: "" when HOME\tmp is a plain folder or is missing (it is created at start);
/// otherwise what is wrong (a file, a link or junction, unreadable) and what to do. Changes
/// nothing: for plan and run validation. Always "" for other scripts.
std::string check_home_before_run(const Profile& profile);

/// For a batch start, just before the script runs: creates HOME\tmp when it is missing, then
/// checks it as check_home_before_run does. "" when the script may run; otherwise why it must
/// not (nothing was deleted or started). Always "" for other scripts.
std::string prepare_home_for_start(const Profile& profile);

/// check_home_before_run for every profile: throws ConfigError naming each profile file whose
/// home is unsafe to start, before anything is started or written.
void require_homes_safe_to_start(const std::vector<Profile>& profiles);

}  // namespace carbon
