#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "process_state.hpp"
#include "profile.hpp"
#include "supervision/spawn.hpp"

namespace carbon {

class Containment;  // supervision/cgroup.hpp

/// Why a run cannot start now; the machine hears it as a spawn that failed.
struct StartRefusal {
    ExitReason reason = ExitReason::SpawnFailed;
    std::string why;
};

/// What an instance's run needs from the host besides the loop: the checks before each start
/// and the spawn itself. OsRunHost is the operating system's; the supervision core's unit tests
/// give a fake one, so every edge of an instance's life can be driven without a process.
class RunHost {
  public:
    virtual ~RunHost() = default;
    /// Why a run of `profile` at `offset` cannot start now, or nullopt. Asked before each spawn.
    virtual std::optional<StartRefusal> refuse_start(const Profile& profile, int offset) = 0;
    /// Starts a run as a fresh process group; throws std::system_error when it cannot.
    virtual std::unique_ptr<ProcessGroup> spawn(boost::asio::io_context& io, const Profile& profile,
                                                int offset) = 0;
};

/// The real host: it prepares the home (the tmp folder a .bat wipes), refuses a home that runs
/// outside the launcher or a port another process holds, and spawns the start script in a
/// cgroup of its own or a process group.
class OsRunHost final : public RunHost {
  public:
    explicit OsRunHost(std::shared_ptr<Containment> containment);
    std::optional<StartRefusal> refuse_start(const Profile& profile, int offset) override;
    std::unique_ptr<ProcessGroup> spawn(boost::asio::io_context& io, const Profile& profile,
                                        int offset) override;

  private:
    std::shared_ptr<Containment> containment_;
};

}  // namespace carbon
