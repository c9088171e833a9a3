#include "supervisor.hpp"

namespace carbon {

// Nothing can be left over on Windows: every instance ran in a Job Object with
// KILL_ON_JOB_CLOSE whose only handle the launcher held, so when the launcher died, however it
// died, Windows ended every process of every instance. (On Linux the runtimes outlive a
// SIGKILLed launcher, and leftovers_linux.cpp stops them.)
void stop_leftovers(boost::asio::io_context&, const std::filesystem::path&, std::chrono::seconds) {}

}  // namespace carbon
