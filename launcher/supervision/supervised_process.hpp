#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "health/health_monitor.hpp"
#include "health/thread_dump.hpp"
#include "instance_machine.hpp"
#include "os/process_probe.hpp"
#include "process_state.hpp"
#include "profile.hpp"
#include "supervision/rotating_log.hpp"
#include "supervision/run_host.hpp"
#include "supervision/supervision_clock.hpp"

namespace carbon {

/// Where an instance keeps its files outside its home.
struct InstancePaths {
    std::filesystem::path log_file;        // STATE/logs/NAME.log
    std::filesystem::path record_file;     // STATE/instances/NAME.json
    std::filesystem::path dump_directory;  // STATE/dumps
};

/// One instance's OS shell around its pure state machine (common/instance_machine): it has its
/// RunHost spawn a ProcessGroup (process group, cgroup or Job Object), reads its output, probes
/// readiness, keeps the one deadline timer the machine asks for, and feeds every event back to the
/// machine. Each state change is logged as "name: From -> To (why)" and reported to the supervisor
/// through a posted call, never re-entrantly.
class SupervisedProcess {
  public:
    using StateListener = std::function<void(SupervisedProcess&)>;

    SupervisedProcess(boost::asio::io_context& io, std::shared_ptr<const Profile> profile,
                      int offset, InstancePaths paths, std::shared_ptr<RunHost> host,
                      StateListener on_change);
    ~SupervisedProcess();

    void start();     // Stopped/Exited/Fatal -> Starting
    void stop();      // any live state -> Stopping -> Stopped
    void restart();   // a live instance stops, then starts again; others start
    void kill_now();  // SIGKILL to the group, or TerminateJobObject (a second Ctrl-C)

    /// From the supervisor's SIGCHLD handler: true when `pid` was this instance's main process.
    bool on_child_reaped(int pid, ExitStatus status);
    /// After every reap: a group whose last member just went is finished.
    void check_group_drained();
    /// True when `pid` is one of this instance's processes.
    bool owns_process(int pid) const { return group_ && group_->contains(pid); }

    const std::string& name() const { return profile_->name; }
    const Profile& profile() const { return *profile_; }
    std::shared_ptr<const Profile> shared_profile() const { return profile_; }
    int offset() const { return offset_; }
    ProcessState state() const { return machine_.state(); }
    ExitReason reason() const { return machine_.reason(); }
    const std::string& last_error() const { return machine_.last_error(); }
    int pid() const { return pid_; }
    int restarts() const { return machine_.restarts(); }
    bool wants_up() const { return machine_.wants_up(); }
    bool ever_started() const { return machine_.ever_started(); }
    /// A process of this instance may still exist.
    bool has_processes() const { return group_ != nullptr; }
    int pgid() const { return group_ ? group_->pid() : -1; }
    /// What holds its processes together ("cgroup PATH", "process group N"); "" when none run.
    std::string containment() const { return group_ ? group_->describe() : ""; }
    SupervisionClock::time_point started_at() const { return started_at_; }
    std::optional<SupervisionClock::time_point> ready_at() const { return machine_.ready_at(); }
    std::vector<int> readiness_ports() const;
    const std::filesystem::path& log_file() const { return paths_.log_file; }
    /// The JVM's pid from the runtime's pid file (it changes when the start script restarts the
    /// JVM on exit 121). Cached by the file's mtime and size: one stat() per call.
    std::optional<int> jvm_pid() const;
    /// The last lines the current or last run printed (a bind error, a stack trace's head).
    const std::deque<std::string>& last_output() const { return output_tail_; }
    /// Health probes (the last one, its result, failures in a row) and thread dumps taken.
    nlohmann::json health_status() const;
    /// Asks the JVM for a thread dump into STATE/dumps/ (`carbon-launcher dump`); returns the
    /// file it goes to, or nullopt when no JVM runs or it cannot be asked (logged).
    std::optional<std::filesystem::path> take_thread_dump(const std::string& why);
    /// Every chunk of the instance's output, as it is captured (for `logs -f`).
    void set_output_listener(std::function<void(std::string_view)> listener) {
        output_listener_ = std::move(listener);
    }

  private:
    using Clock = SupervisionClock;

    void apply(const Actions& actions);
    void send_stop_signals(bool request_stop, bool kill);
    void follow_with_health(ProcessState state);
    void server_up(const std::string& how);
    bool probes_decide_readiness() const { return health_ && health_->decides_readiness(); }
    bool start_thread_dump(const std::string& why, std::function<void()> then);
    void report(const Actions& actions);
    void spawn_run();
    void on_main_exited(ExitStatus status);
    void arm_deadline(std::chrono::milliseconds after, std::uint64_t token);
    void read_output();
    void remember_output(std::string_view chunk);
    void scan_for_startup_line(std::string_view chunk);
    void probe_ports();
    void write_record() const;
    void remove_record() const;

    boost::asio::io_context& io_;
    std::shared_ptr<const Profile> profile_;
    int offset_;
    InstancePaths paths_;
    std::shared_ptr<RunHost> host_;
    StateListener on_change_;
    std::function<void(std::string_view)> output_listener_;
    struct JvmPidCache {
        FileStamp stamp{-1, -1};
        std::optional<int> pid;
    };
    mutable JvmPidCache jvm_pid_cache_;
    mutable std::optional<int> last_jvm_pid_;  // the JVM seen last, named once it has gone
    RotatingLog log_;
    InstanceMachine machine_;
    /// Expires with this object: a posted report or a queued completion finds it gone.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);

    int pid_ = -1;                         // the start script
    std::unique_ptr<ProcessGroup> group_;  // kept until the whole group is gone
    bool main_exited_ = false;
    std::string stop_how_;  // what the last graceful stop did, for the log line
    Clock::time_point started_at_;

    SupervisionTimer deadline_;
    SupervisionTimer probe_timer_;
    std::unique_ptr<OutputPipe> output_;
    // Not zero-filled and not a member array, and one page: the heap hands this buffer memory
    // that start-up already touched and freed (profiles, plan), so "pages touched only as far as
    // reads fill them" did not hold for 16 KiB (+6 KiB per idle instance). A chatty JVM costs a
    // few more reads; lines split across reads are joined by the scanners anyway.
    static constexpr std::size_t kOutputChunk = 4096;
    std::unique_ptr<char[]> buffer_{new char[kOutputChunk]};
    std::string partial_line_;
    std::deque<std::string> output_tail_;
    std::string tail_partial_;
    std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> probes_;
    std::unique_ptr<HealthMonitor> health_;  // null when the instance has no probe at all
    std::unique_ptr<ThreadDumpCapture> dump_;
    int dumps_taken_ = 0;
    std::filesystem::path last_dump_;
};

}  // namespace carbon
