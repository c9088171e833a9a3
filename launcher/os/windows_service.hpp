#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace carbon {

/// Where the launcher stands, as the Windows Service Control Manager sees it.
enum class ServiceState { StartPending, Running, StopPending, Stopped };

/// True inside `service run` once the SCM has connected.
bool running_as_service();
/// Reports a state to the SCM (no-op outside a service).
void report_service_state(ServiceState state);
/// Advances the checkpoint of a pending start or stop, asking for `wait_hint` more time.
void report_service_progress(std::chrono::milliseconds wait_hint);

/// `carbon-launcher service install|uninstall|run`.
int cmd_service(const std::vector<std::string>& args);

/// The helper behind a graceful stop: sends CTRL_C to the console of process `pid`.
int cmd_internal_console_ctrl_c(const std::vector<std::string>& args);
int send_console_ctrl_c(int pid);

}  // namespace carbon
