#pragma once

#include <string>
#include <vector>

namespace carbon {

/// Operator commands that talk to a running launcher over its control socket.
int cmd_status(const std::vector<std::string>& args);
int cmd_start(const std::vector<std::string>& args);
int cmd_stop(const std::vector<std::string>& args);
int cmd_restart(const std::vector<std::string>& args);
int cmd_reload(const std::vector<std::string>& args);
int cmd_dump(const std::vector<std::string>& args);
int cmd_logs(const std::vector<std::string>& args);
int cmd_wait_ready(const std::vector<std::string>& args);

}  // namespace carbon
