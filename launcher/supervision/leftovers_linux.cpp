#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>

#include "diagnostics.hpp"
#include "instance_record.hpp"
#include "os/process_probe.hpp"
#include "supervision/leftovers.hpp"
#include "text_file.hpp"

namespace asio = boost::asio;

namespace carbon {
namespace {

/// The boot time in seconds since the epoch (/proc/stat "btime"), or 0 when unknown.
long long boot_time() {
    std::string error;
    const auto text = read_text_file("/proc/stat", error);
    if (!text) {
        return 0;
    }
    std::istringstream lines(*text);
    std::string key;
    long long value = 0;
    while (lines >> key) {
        if (key == "btime" && lines >> value) {
            return value;
        }
        lines.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    return 0;
}

/// True when `pid`'s command line or environment names `home` (the JVM's -Dcarbon.home, the
/// script's path, CARBON_HOME=).
bool process_names_home(int pid, const std::filesystem::path& home) {
    const std::string proc = "/proc/" + std::to_string(pid);
    for (const char* file : {"/cmdline", "/environ"}) {
        std::string error;
        const auto text = read_text_file(proc + file, error);
        if (text && text->find(home.string()) != std::string::npos) {
            return true;
        }
    }
    return false;
}

/// Why a record's group may not be signalled, or "" when it is still the record's own group.
/// The kernel never hands out a pid that is in use as a process group id, so a group whose
/// leader is gone can only be ours while some member is left; a leader with another start time
/// means the pid, and with it the group id, now belongs to someone else.
std::string not_ours(const InstanceRecord& record, const std::filesystem::path& file,
                     long long booted_at) {
    struct stat st {};
    if (booted_at > 0 && ::stat(file.c_str(), &st) == 0 && st.st_mtime < booted_at) {
        return "written before the last boot";
    }
    if (record.pgid <= 1 || record.pid <= 1) {
        return "it names no process group";
    }
    if (const auto leader = read_proc_stat(record.pgid)) {
        const bool same = record.pid == record.pgid && leader->start_time == record.start_time;
        return same ? "" : "its process group id now belongs to a newer process";
    }
    for (const int member : group_members(record.pgid)) {
        if (process_names_home(member, record.home)) {
            return "";
        }
    }
    return "no process of its group names its home";
}

}  // namespace

/// What an earlier launcher left running: a cgroup (an exact record of what is left, a process
/// that called setsid() included) or, without one, a process group.
struct Leftover {
    InstanceRecord record;                   // for a cgroup found without a record: its name only
    std::unique_ptr<InstanceCgroup> cgroup;  // null: the record's process group
    std::unique_ptr<asio::steady_timer> deadline;  // its own stop timeout, then SIGKILL
};

struct LeftoverCleanup::Native {
    explicit Native(asio::io_context& context) : io(context) {}
    asio::io_context& io;
    std::vector<Leftover> leftovers;
    std::filesystem::path records_dir;
    long long booted_at = 0;
    std::vector<std::unique_ptr<asio::posix::stream_descriptor>> watchers;
    std::size_t remaining = 0;
    std::function<void()> done;
    bool finished = false;

    void find(const Containment& containment);
    std::optional<Leftover> examine(const InstanceRecord& record, const std::filesystem::path& file,
                                    const Containment& containment);
    void find_unrecorded_cgroups(const Containment& containment);
    void stop(Leftover& leftover);
    void watch_exits(const std::vector<int>& pids);
    void watch_cgroup(const InstanceCgroup& cgroup);
    void wait_until_empty(asio::posix::stream_descriptor& events, const InstanceCgroup& cgroup);
    void one_gone();
    void finish();
    bool still_there(const Leftover& leftover) const;
    void kill(const Leftover& leftover, const std::string& why);
    void kill_all(const std::string& why);
};

// Live records of an earlier launcher; records that no longer name live processes of ours are
// deleted.
void LeftoverCleanup::Native::find(const Containment& containment) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(records_dir, ec)) {
        if (entry.path().extension() != ".json") {
            continue;
        }
        std::string error;
        const auto text = read_text_file(entry.path(), error);
        if (!text) {
            // Kept, not deleted: it may name a live group that a later launcher must still find.
            spdlog::warn("{}: {}; its instance, if still running, is not stopped",
                         entry.path().string(), error);
            continue;
        }
        try {
            const InstanceRecord record = parse_instance_record(*text, entry.path());
            if (auto leftover = examine(record, entry.path(), containment)) {
                leftovers.push_back(std::move(*leftover));
                continue;
            }
        } catch (const ConfigError& e) {
            spdlog::warn("{}", e.what());
        }
        std::filesystem::remove(entry.path(), ec);
    }
    find_unrecorded_cgroups(containment);
}

// The record's cgroup when it has one (the kernel never reuses a cgroup: what is in it is
// ours), else its process group, checked by not_ours(). nullopt: nothing of it is left.
std::optional<Leftover> LeftoverCleanup::Native::examine(const InstanceRecord& record,
                                                         const std::filesystem::path& file,
                                                         const Containment& containment) {
    if (record.cgroup.empty()) {
        if (group_members(record.pgid).empty()) {
            return std::nullopt;
        }
        if (const std::string why = not_ours(record, file, booted_at); !why.empty()) {
            spdlog::warn(
                "{}: its record names process group {}, which is not its own any more ({}): "
                "nothing is signalled",
                file.string(), record.pgid, why);
            return std::nullopt;
        }
        return Leftover{record, nullptr, nullptr};
    }
    if (!containment.may_hold(record.cgroup, record.name)) {
        spdlog::warn(
            "{}: its record names cgroup {}, which is not one that a launcher on this state "
            "dir makes: nothing is signalled",
            file.string(), record.cgroup.string());
        return std::nullopt;
    }
    auto cgroup = std::make_unique<InstanceCgroup>(record.cgroup);
    if (!cgroup->populated()) {
        return std::nullopt;  // gone with its processes (cgroups do not outlive a boot)
    }
    return Leftover{record, std::move(cgroup), nullptr};
}

// A cgroup in this launcher's subtree that still holds processes is a leftover even when its
// record is missing (a crash between the spawn and the record's write).
void LeftoverCleanup::Native::find_unrecorded_cgroups(const Containment& containment) {
    for (const auto& directory : containment.populated_instance_cgroups()) {
        const bool recorded = std::any_of(leftovers.begin(), leftovers.end(), [&](const auto& l) {
            return l.cgroup && l.cgroup->directory() == directory;
        });
        if (recorded) {
            continue;
        }
        Leftover leftover;
        leftover.record.name = directory.filename().string();
        leftover.cgroup = std::make_unique<InstanceCgroup>(directory);
        spdlog::warn("{}: cgroup {} holds processes of an earlier launcher but has no record",
                     leftover.record.name, directory.string());
        leftovers.push_back(std::move(leftover));
    }
}

void LeftoverCleanup::Native::stop(Leftover& leftover) {
    const InstanceRecord& record = leftover.record;
    if (leftover.cgroup) {
        // A cgroup found without a record has no launcher pid to name.
        spdlog::warn(
            "{}: an earlier launcher{} left it running in cgroup {}: stopping it before its home "
            "and ports are used again",
            record.name,
            record.launcher_pid > 0 ? " (pid " + std::to_string(record.launcher_pid) + ")" : "",
            leftover.cgroup->directory().string());
        watch_cgroup(*leftover.cgroup);
        leftover.cgroup->signal_members(SIGTERM);
        return;
    }
    spdlog::warn(
        "{}: an earlier launcher (pid {}) left it running as process group {}: stopping "
        "it before its home and ports are used again",
        record.name, record.launcher_pid, record.pgid);
    watch_exits(group_members(record.pgid));
    signal_group(record.pgid, SIGTERM);
}

// Waits, on the loop, until every pid in `pids` has exited (pidfds become readable).
void LeftoverCleanup::Native::watch_exits(const std::vector<int>& pids) {
    for (const int pid : pids) {
        const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (fd < 0) {
            continue;  // already gone
        }
        ++remaining;
        watchers.push_back(std::make_unique<asio::posix::stream_descriptor>(io, fd));
        watchers.back()->async_wait(asio::posix::stream_descriptor::wait_read,
                                    [this](const boost::system::error_code& ec) {
                                        if (!ec) {
                                            one_gone();
                                        }
                                    });
    }
}

// Waits, on the loop, until the cgroup is empty: the kernel changes "populated" in
// cgroup.events, which inotify reports. A fork after any listing of its members is covered too.
void LeftoverCleanup::Native::watch_cgroup(const InstanceCgroup& cgroup) {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0 || ::inotify_add_watch(fd, cgroup.events_file().c_str(), IN_MODIFY) < 0) {
        spdlog::warn("cannot watch {} ({}): waiting for its members' exits instead",
                     cgroup.events_file().string(), std::strerror(errno));
        if (fd >= 0) {
            ::close(fd);
        }
        watch_exits(cgroup.members());
        return;
    }
    ++remaining;
    watchers.push_back(std::make_unique<asio::posix::stream_descriptor>(io, fd));
    wait_until_empty(*watchers.back(), cgroup);
}

void LeftoverCleanup::Native::wait_until_empty(asio::posix::stream_descriptor& events,
                                               const InstanceCgroup& cgroup) {
    if (!cgroup.populated()) {  // read after the watch exists, so no change is missed
        one_gone();
        return;
    }
    events.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this, &events, &cgroup](const boost::system::error_code& ec) {
                          if (ec) {
                              return;
                          }
                          char buffer[4096];
                          // Drain the queued events (non-blocking); each was one change.
                          while (::read(events.native_handle(), buffer, sizeof buffer) > 0) {
                          }
                          wait_until_empty(events, cgroup);
                      });
}

void LeftoverCleanup::Native::one_gone() {
    if (--remaining == 0) {
        finish();
    }
}

// Checked again before a SIGKILL: a group that has exited since its SIGTERM is not signalled,
// since its id may by now be the id of a newer process's group.
bool LeftoverCleanup::Native::still_there(const Leftover& leftover) const {
    if (leftover.cgroup) {
        return leftover.cgroup->populated();
    }
    if (group_members(leftover.record.pgid).empty()) {
        return false;
    }
    const auto file = records_dir / (leftover.record.name + ".json");
    if (const std::string why = not_ours(leftover.record, file, booted_at); !why.empty()) {
        spdlog::warn("{}: process group {} is not its own any more ({}): not killed",
                     leftover.record.name, leftover.record.pgid, why);
        return false;
    }
    return true;
}

void LeftoverCleanup::Native::kill(const Leftover& leftover, const std::string& why) {
    if (!still_there(leftover)) {
        return;
    }
    if (leftover.cgroup) {
        spdlog::warn("{}: {}: SIGKILL to cgroup {} ({})", leftover.record.name, why,
                     leftover.cgroup->directory().string(), leftover.cgroup->kill());
    } else {
        spdlog::warn("{}: {}: SIGKILL to process group {}", leftover.record.name, why,
                     leftover.record.pgid);
        signal_group(leftover.record.pgid, SIGKILL);
    }
}

void LeftoverCleanup::Native::kill_all(const std::string& why) {
    for (const auto& leftover : leftovers) {
        kill(leftover, why);
    }
}

// Every leftover is gone: their records go now, their empty cgroups with this object
// (~InstanceCgroup).
void LeftoverCleanup::Native::finish() {
    if (finished) {
        return;
    }
    finished = true;
    for (const auto& leftover : leftovers) {
        if (leftover.deadline) {
            leftover.deadline->cancel();
        }
    }
    for (const auto& leftover : leftovers) {
        std::error_code ec;
        std::filesystem::remove(records_dir / (leftover.record.name + ".json"), ec);
    }
    asio::post(io, std::move(done));
}

LeftoverCleanup::LeftoverCleanup(
    asio::io_context& io, const std::filesystem::path& state_dir, const Containment& containment,
    const std::function<std::chrono::seconds(const std::string&)>& stop_timeout_of,
    std::function<void()> done)
    : native_(std::make_unique<Native>(io)) {
    Native& n = *native_;
    n.records_dir = state_dir / "instances";
    n.booted_at = boot_time();
    n.done = std::move(done);
    n.find(containment);
    // One count held while the leftovers are signalled, so that one found empty at once cannot
    // finish the phase in the middle of this loop.
    n.remaining = 1;
    for (auto& leftover : n.leftovers) {
        n.stop(leftover);
        const std::chrono::seconds timeout = stop_timeout_of(leftover.record.name);
        leftover.deadline = std::make_unique<asio::steady_timer>(io, timeout);
        leftover.deadline->async_wait(
            [&n, &leftover, timeout](const boost::system::error_code& ec) {
                if (!ec) {
                    n.kill(leftover,
                           "still running " + std::to_string(timeout.count()) + " s after SIGTERM");
                }
            });
    }
    n.one_gone();
}

LeftoverCleanup::~LeftoverCleanup() = default;

void LeftoverCleanup::kill_now() {
    if (!native_->finished) {
        native_->kill_all("second interrupt");
    }
}

}  // namespace carbon
