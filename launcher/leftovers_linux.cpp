#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "diagnostics.hpp"
#include "instance_record.hpp"
#include "process_probe.hpp"
#include "supervisor.hpp"
#include "text_file.hpp"

namespace asio = boost::asio;

namespace carbon {
namespace {

/// Live records of an earlier launcher; records whose process is gone are deleted.
std::vector<InstanceRecord> live_leftovers(const std::filesystem::path& dir) {
    std::vector<InstanceRecord> live;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        std::string error;
        const auto text = read_text_file(entry.path(), error);
        if (!text || entry.path().extension() != ".json") {
            continue;
        }
        try {
            const InstanceRecord record = parse_instance_record(*text, entry.path());
            const auto stat = read_proc_stat(record.pid);
            const bool same_process = stat && stat->start_time == record.start_time;
            if (same_process || (record.pgid > 0 && !group_members(record.pgid).empty())) {
                live.push_back(record);
                continue;
            }
        } catch (const ConfigError& e) {
            spdlog::warn("{}", e.what());
        }
        std::filesystem::remove(entry.path(), ec);
    }
    return live;
}

/// Waits, on the loop, until every pid in `pids` has exited (pidfds become readable).
std::size_t watch_exits(asio::io_context& io, const std::vector<int>& pids,
                        std::vector<std::unique_ptr<asio::posix::stream_descriptor>>& watchers,
                        std::function<void()> on_all_gone) {
    auto remaining = std::make_shared<std::size_t>(0);
    auto done = std::make_shared<std::function<void()>>(std::move(on_all_gone));
    for (const int pid : pids) {
        const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (fd < 0) {
            continue;  // already gone
        }
        ++*remaining;
        watchers.push_back(std::make_unique<asio::posix::stream_descriptor>(io, fd));
        watchers.back()->async_wait(asio::posix::stream_descriptor::wait_read,
                                    [remaining, done](const boost::system::error_code& ec) {
                                        if (!ec && --*remaining == 0) {
                                            (*done)();
                                        }
                                    });
    }
    return *remaining;
}

}  // namespace

void stop_leftovers(asio::io_context& io, const std::filesystem::path& state_dir,
                    std::chrono::seconds stop_timeout) {
    const auto records_dir = state_dir / "instances";
    const auto leftovers = live_leftovers(records_dir);
    if (leftovers.empty()) {
        return;
    }
    std::vector<int> pids;
    for (const auto& record : leftovers) {
        spdlog::warn(
            "{}: an earlier launcher (pid {}) left it running as process group {}: stopping "
            "it before its home and ports are used again",
            record.name, record.launcher_pid, record.pgid);
        const auto members = group_members(record.pgid);
        pids.insert(pids.end(), members.begin(), members.end());
        signal_group(record.pgid, SIGTERM);
    }
    std::vector<std::unique_ptr<asio::posix::stream_descriptor>> watchers;
    asio::steady_timer deadline(io);
    bool finished = false;
    if (watch_exits(io, pids, watchers, [&] {
            finished = true;
            deadline.cancel();
        }) == 0) {
        finished = true;
    }
    if (!finished) {
        deadline.expires_after(stop_timeout);
        deadline.async_wait([&](const boost::system::error_code& ec) {
            if (ec) {
                return;
            }
            for (const auto& record : leftovers) {
                spdlog::warn("{}: still running {} s after SIGTERM: SIGKILL to process group {}",
                             record.name, stop_timeout.count(), record.pgid);
                signal_group(record.pgid, SIGKILL);
            }
        });
        while (!finished && io.run_one() > 0) {
        }
        io.restart();
    }
    for (const auto& record : leftovers) {
        std::error_code ec;
        std::filesystem::remove(records_dir / (record.name + ".json"), ec);
    }
}

}  // namespace carbon
