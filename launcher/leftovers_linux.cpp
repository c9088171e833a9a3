#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <limits>
#include <sstream>

#include "diagnostics.hpp"
#include "instance_record.hpp"
#include "leftovers.hpp"
#include "process_probe.hpp"
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

struct LeftoverCleanup::Native {
    explicit Native(asio::io_context& context) : io(context), deadline(context) {}
    asio::io_context& io;
    std::vector<InstanceRecord> leftovers;
    std::filesystem::path records_dir;
    std::vector<std::unique_ptr<asio::posix::stream_descriptor>> watchers;
    std::size_t remaining = 0;
    asio::steady_timer deadline;
    std::function<void()> done;
    bool finished = false;

    void find(long long booted_at);
    void watch_exits(const std::vector<int>& pids);
    void finish();
    void kill_all(const char* why);
};

// Live records of an earlier launcher; records that no longer name a live group are deleted.
void LeftoverCleanup::Native::find(long long booted_at) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(records_dir, ec)) {
        if (entry.path().extension() != ".json") {
            continue;
        }
        std::string error;
        const auto text = read_text_file(entry.path(), error);
        if (!text) {
            continue;
        }
        try {
            const InstanceRecord record = parse_instance_record(*text, entry.path());
            if (!group_members(record.pgid).empty()) {
                if (const std::string why = not_ours(record, entry.path(), booted_at);
                    why.empty()) {
                    leftovers.push_back(record);
                    continue;
                } else {
                    spdlog::warn(
                        "{}: its record names process group {}, which is not its own "
                        "any more ({}): nothing is signalled",
                        entry.path().string(), record.pgid, why);
                }
            }
        } catch (const ConfigError& e) {
            spdlog::warn("{}", e.what());
        }
        std::filesystem::remove(entry.path(), ec);
    }
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
                                        if (!ec && --remaining == 0) {
                                            finish();
                                        }
                                    });
    }
}

void LeftoverCleanup::Native::kill_all(const char* why) {
    for (const auto& record : leftovers) {
        spdlog::warn("{}: {}: SIGKILL to process group {}", record.name, why, record.pgid);
        signal_group(record.pgid, SIGKILL);
    }
}

void LeftoverCleanup::Native::finish() {
    if (finished) {
        return;
    }
    finished = true;
    deadline.cancel();
    for (const auto& record : leftovers) {
        std::error_code ec;
        std::filesystem::remove(records_dir / (record.name + ".json"), ec);
    }
    asio::post(io, std::move(done));
}

LeftoverCleanup::LeftoverCleanup(asio::io_context& io, const std::filesystem::path& state_dir,
                                 std::chrono::seconds stop_timeout, std::function<void()> done)
    : native_(std::make_unique<Native>(io)) {
    Native& n = *native_;
    n.records_dir = state_dir / "instances";
    n.done = std::move(done);
    n.find(boot_time());
    std::vector<int> pids;
    for (const auto& record : n.leftovers) {
        spdlog::warn(
            "{}: an earlier launcher (pid {}) left it running as process group {}: stopping "
            "it before its home and ports are used again",
            record.name, record.launcher_pid, record.pgid);
        const auto members = group_members(record.pgid);
        pids.insert(pids.end(), members.begin(), members.end());
        signal_group(record.pgid, SIGTERM);
    }
    n.watch_exits(pids);
    if (n.remaining == 0) {
        n.finish();
        return;
    }
    n.deadline.expires_after(stop_timeout);
    n.deadline.async_wait([&n, stop_timeout](const boost::system::error_code& ec) {
        if (!ec) {
            const std::string why =
                "still running " + std::to_string(stop_timeout.count()) + " s after SIGTERM";
            n.kill_all(why.c_str());
        }
    });
}

LeftoverCleanup::~LeftoverCleanup() = default;

void LeftoverCleanup::kill_now() {
    if (!native_->finished) {
        native_->kill_all("second interrupt");
    }
}

}  // namespace carbon
