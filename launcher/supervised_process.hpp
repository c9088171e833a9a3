#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "process_probe.hpp"
#include "process_state.hpp"
#include "profile.hpp"
#include "rotating_log.hpp"
#include "spawn.hpp"

namespace carbon {

/// Where an instance keeps its files outside its home.
struct InstancePaths {
    std::filesystem::path log_file;     // STATE/logs/NAME.log
    std::filesystem::path record_file;  // STATE/instances/NAME.json
};

/// One instance: its ChildGroup (process group or Job Object), its state machine and its single
/// deadline timer, whose meaning depends on the state (start timeout, backoff delay, stop timeout).
/// Every change of state goes through set_state(), which logs "name: From -> To (why)".
class SupervisedProcess {
  public:
    using StateListener = std::function<void(SupervisedProcess&)>;

    SupervisedProcess(boost::asio::io_context& io, std::shared_ptr<const Profile> profile,
                      int offset, InstancePaths paths, StateListener on_change);
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
    ProcessState state() const { return state_; }
    ExitReason reason() const { return reason_; }
    const std::string& last_error() const { return last_error_; }
    int pid() const { return pid_; }
    int restarts() const { return restarts_; }
    bool wants_up() const { return want_up_; }
    bool ever_started() const { return ever_started_; }
    /// A process of this instance may still exist.
    bool has_processes() const { return group_ != nullptr; }
    int pgid() const { return group_ ? group_->pid() : -1; }
    std::chrono::steady_clock::time_point started_at() const { return started_at_; }
    std::optional<std::chrono::steady_clock::time_point> ready_at() const { return ready_at_; }
    std::vector<int> readiness_ports() const;
    const std::filesystem::path& log_file() const { return paths_.log_file; }
    /// The JVM's pid from the runtime's pid file (it changes when the start script restarts the
    /// JVM on exit 121). Cached by the file's mtime and size: one stat() per call.
    std::optional<int> jvm_pid() const;
    /// Every chunk of the instance's output, as it is captured (for `logs -f`).
    void set_output_listener(std::function<void(std::string_view)> listener) {
        output_listener_ = std::move(listener);
    }

  private:
    using Clock = std::chrono::steady_clock;

    void set_state(ProcessState to, const std::string& why);
    void on_main_exited(ExitStatus status);
    void enter_starting();
    void enter_running(const std::string& how);
    void enter_backoff(std::chrono::milliseconds delay, const std::string& why);
    void enter_stopping(const std::string& why);
    void enter_fatal(const std::string& why);
    void fail_before_spawn(ExitReason reason, const std::string& why);
    void after_group_drained();
    std::string port_conflict() const;
    void arm_deadline(std::chrono::milliseconds after, std::function<void()> on_expiry);
    void read_output();
    void scan_for_startup_line(std::string_view chunk);
    void probe_ports();
    void write_record() const;
    void remove_record() const;

    boost::asio::io_context& io_;
    std::shared_ptr<const Profile> profile_;
    int offset_;
    InstancePaths paths_;
    StateListener on_change_;
    std::function<void(std::string_view)> output_listener_;
    struct JvmPidCache {
        FileStamp stamp{-1, -1};
        std::optional<int> pid;
    };
    mutable JvmPidCache jvm_pid_cache_;
    RotatingLog log_;

    ProcessState state_ = ProcessState::Stopped;
    ExitReason reason_ = ExitReason::None;
    std::string last_error_;
    bool want_up_ = false;
    bool ever_started_ = false;

    int pid_ = -1;                       // the start script
    std::unique_ptr<ChildGroup> group_;  // kept until the whole group is gone
    bool main_exited_ = false;
    ExitStatus exit_status_;
    bool start_timed_out_ = false;
    int failures_ = 0;
    int restarts_ = 0;
    Clock::time_point started_at_;
    std::optional<Clock::time_point> ready_at_;

    boost::asio::steady_timer deadline_;
    boost::asio::steady_timer probe_timer_;
    std::unique_ptr<OutputPipe> output_;
    std::uint64_t output_generation_ = 0;  // one per run: see read_output()
    std::array<char, 16384> buffer_{};
    std::string partial_line_;
    std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> probes_;
    std::mt19937 random_;
};

}  // namespace carbon
