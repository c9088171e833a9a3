#pragma once

#include <filesystem>
#include <string>

namespace carbon {

/// Who asks for the control socket: the launcher that listens on it (`run`), or a client.
enum class SocketRole { Serve, Connect };

std::filesystem::path executable_path();
std::filesystem::path default_profiles_dir();

/// Root: /var/lib/carbon-launcher. Any other user: $XDG_STATE_HOME/carbon-launcher, else
/// ~/.local/state/carbon-launcher (ExitError when there is no home to put it in).
std::filesystem::path default_state_dir();

/// Root: /run/carbon-launcher/control.sock. Any other user, like `systemctl --user`: a launcher
/// listens on $XDG_RUNTIME_DIR/carbon-launcher/control.sock (ExitError saying to pass --socket
/// when XDG_RUNTIME_DIR is unset or not this user's); a client uses that socket when it exists,
/// else the system launcher's.
std::filesystem::path default_socket_path(SocketRole role);

/// The port tables: --runtimes, else $CARBON_LAUNCHER_RUNTIMES, else beside the binary
/// (<prefix>/share/carbon-launcher/runtimes, which is also the build tree's layout).
std::filesystem::path find_runtimes_dir(const std::string& override_dir);

}  // namespace carbon
