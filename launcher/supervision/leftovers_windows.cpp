#include <boost/asio/post.hpp>

#include "supervision/leftovers.hpp"

namespace carbon {

// Nothing can be left over on Windows: every instance ran in a Job Object with
// KILL_ON_JOB_CLOSE whose only handle the launcher held, so when the launcher died, however it
// died, Windows ended every process of every instance. (On Linux the runtimes outlive a
// SIGKILLed launcher, and leftovers_linux.cpp stops them.)
struct LeftoverCleanup::Native {};

LeftoverCleanup::LeftoverCleanup(boost::asio::io_context& io, const std::filesystem::path&,
                                 const Containment&,
                                 const std::function<std::chrono::seconds(const std::string&)>&,
                                 std::function<void()> done)
    : native_(std::make_unique<Native>()) {
    boost::asio::post(io, std::move(done));
}

LeftoverCleanup::~LeftoverCleanup() = default;

void LeftoverCleanup::kill_now() {}

}  // namespace carbon
