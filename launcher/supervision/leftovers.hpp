#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "supervision/cgroup.hpp"

namespace carbon {

/// The supervisor's first phase: stops the instances that an earlier, crashed launcher left
/// running (its records in STATE/instances) before their homes and ports are used again:
/// SIGTERM to each group, and SIGKILL to one still there after its own stop timeout
/// (`stop_timeout_of(name)`: the instance's profile's, or the default for one no profile names).
/// Runs on the supervisor's own loop (no nested loop): `done` is posted once every leftover is
/// gone, at once when there is none.
///
/// A record is acted on only when it still names this boot's process: a record written before
/// the last boot is stale, a group leader with another start time is a reused pid, and a
/// leaderless group is signalled only when one of its members names the record's home. A record
/// with a cgroup is exact (everything in that cgroup is left over, a setsid() escapee included)
/// once the path is checked to be one this launcher makes; a populated cgroup in the launcher's
/// subtree is a leftover even without a record.
class LeftoverCleanup {
  public:
    LeftoverCleanup(boost::asio::io_context& io, const std::filesystem::path& state_dir,
                    const Containment& containment,
                    const std::function<std::chrono::seconds(const std::string&)>& stop_timeout_of,
                    std::function<void()> done);
    ~LeftoverCleanup();
    LeftoverCleanup(const LeftoverCleanup&) = delete;
    LeftoverCleanup& operator=(const LeftoverCleanup&) = delete;

    /// A second interrupt during the phase: SIGKILL now rather than after the timeout.
    void kill_now();

  private:
    struct Native;
    std::unique_ptr<Native> native_;
};

}  // namespace carbon
