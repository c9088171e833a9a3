#pragma once

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>

#include "control/control_server.hpp"

namespace carbon {

/// `run` checks what can fail before it stops or writes anything (nothing half done): the state
/// dir and its logs/ and instances/ exist or can be created and this user can write them; the
/// control socket's path fits a socket address and its directory exists or can be created by this
/// user. Throws ExitError naming what failed and what to do.
void preflight_run(const std::filesystem::path& state_dir, const std::filesystem::path& socket);

/// The state dir half of preflight_run (also before the state lock is taken).
void preflight_state_dir(const std::filesystem::path& state_dir);

/// Opens the control socket, turning a failure into an ExitError that says what to do.
std::unique_ptr<ControlServer> open_control_socket(boost::asio::io_context& io,
                                                   const ControlSocketOptions& options,
                                                   ControlHandler& handler);

}  // namespace carbon
