#include "supervised_process.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <cstdio>

#include "atomic_file.hpp"
#include "child_environment.hpp"
#include "host_ports.hpp"
#include "instance_record.hpp"
#include "launch_spec.hpp"
#include "port_check.hpp"
#include "process_probe.hpp"

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace carbon {
namespace {

constexpr milliseconds kProbeInterval{250};
constexpr std::size_t kMaxPartialLine = 8192;

std::string seconds_since(std::chrono::steady_clock::time_point since) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
    return text;
}

}  // namespace

SupervisedProcess::SupervisedProcess(asio::io_context& io, std::shared_ptr<const Profile> profile,
                                     int offset, InstancePaths paths, StateListener on_change)
    : io_(io),
      profile_(std::move(profile)),
      offset_(offset),
      paths_(std::move(paths)),
      on_change_(std::move(on_change)),
      log_(paths_.log_file, static_cast<std::uintmax_t>(profile_->log_max_size_mb) * 1024 * 1024,
           profile_->log_max_files),
      deadline_(io),
      probe_timer_(io),
      random_(std::random_device{}()) {}

SupervisedProcess::~SupervisedProcess() = default;

// One place changes state: it logs the edge with its reason and tells the supervisor.
void SupervisedProcess::set_state(ProcessState to, const std::string& why) {
    const ProcessState from = state_;
    state_ = to;
    const auto level = (to == ProcessState::Fatal || to == ProcessState::Backoff)
                           ? spdlog::level::warn
                           : spdlog::level::info;
    spdlog::log(level, "{}: {} -> {} ({})", name(), to_string(from), to_string(to), why);
    log_.write("[carbon-launcher] " + to_string(from) + " -> " + to_string(to) + " (" + why +
               ")\n");
    on_change_(*this);
}

void SupervisedProcess::start() {
    ever_started_ = true;
    if (state_ == ProcessState::Starting || state_ == ProcessState::Running ||
        state_ == ProcessState::Stopping || has_processes()) {
        want_up_ = true;  // a stop in progress turns into a restart once the group is gone
        return;
    }
    want_up_ = true;
    failures_ = 0;
    deadline_.cancel();
    enter_starting();
}

void SupervisedProcess::stop() {
    want_up_ = false;
    switch (state_) {
        case ProcessState::Backoff:
            deadline_.cancel();
            set_state(ProcessState::Stopped, "stop requested during backoff");
            break;
        case ProcessState::Starting:
        case ProcessState::Running:
            enter_stopping("stop requested");
            break;
        default:
            break;  // Stopping, or no process: nothing to do
    }
}

void SupervisedProcess::restart() {
    if (state_ == ProcessState::Starting || state_ == ProcessState::Running) {
        want_up_ = true;
        ever_started_ = true;
        enter_stopping("restart requested");  // starts again once the group is gone
        return;
    }
    if (state_ == ProcessState::Backoff) {
        deadline_.cancel();
        want_up_ = true;
        failures_ = 0;
        enter_starting();
        return;
    }
    start();
}

std::optional<int> SupervisedProcess::jvm_pid() const {
    if (!has_processes() || profile_->table->pid_file.empty()) {
        return std::nullopt;
    }
    const auto file = profile_->home / profile_->table->pid_file;
    const auto stamp = file_stamp(file);
    if (!stamp) {
        return std::nullopt;
    }
    if (*stamp != jvm_pid_cache_.stamp || !jvm_pid_cache_.pid) {
        jvm_pid_cache_ = {*stamp, live_runtime_pid(file, profile_->home)};
    }
    return jvm_pid_cache_.pid;
}

void SupervisedProcess::kill_now() {
    if (has_processes()) {
        spdlog::warn("{}: {}", name(), group_->kill());
    }
}

std::string SupervisedProcess::port_conflict() const {
    if (!profile_->table->pid_file.empty()) {
        if (const auto pid =
                live_runtime_pid(profile_->home / profile_->table->pid_file, profile_->home)) {
            return "the home is already running outside this launcher: its pid file names live "
                   "process " +
                   std::to_string(*pid);
        }
    }
    for (const auto& port : profile_->ports) {
        const int effective = port.effective(offset_);
        if (port.reserved && port.default_open && port_in_use(effective)) {
            const HostPorts host;
            return "port " + std::to_string(effective) + " (" + port.purpose + ") is held by " +
                   (host.is_held(effective) ? host.holder(effective).describe()
                                            : "another process");
        }
    }
    return "";
}

void SupervisedProcess::enter_starting() {
    if (const std::string conflict = port_conflict(); !conflict.empty()) {
        fail_before_spawn(ExitReason::PortConflict, conflict);
        return;
    }
    SpawnSpec spec;
    const auto argv = launch_argv(*profile_, offset_);
    spec.executable = argv.front();
    spec.args.assign(argv.begin() + 1, argv.end());
    spec.env = child_environment(*profile_, current_environment());
    spec.cwd = profile_->home;
    try {
        group_ = std::make_unique<ChildGroup>(io_, spec);
    } catch (const std::system_error& e) {
        fail_before_spawn(ExitReason::SpawnFailed, e.what());
        return;
    }
    pid_ = group_->pid();
    group_->watch(
        [this](ExitStatus status) {
            on_main_exited(status);
            check_group_drained();
        },
        [this] { check_group_drained(); });
    main_exited_ = false;
    start_timed_out_ = false;
    started_at_ = Clock::now();
    ready_at_.reset();
    partial_line_.clear();
    output_ = group_->take_output(io_);
    ++output_generation_;
    write_record();
    set_state(ProcessState::Starting,
              "pid " + std::to_string(pid_) + ", offset " + std::to_string(offset_));
    read_output();
    arm_deadline(std::chrono::seconds(profile_->ready_timeout_s), [this] {
        start_timed_out_ = true;
        reason_ = ExitReason::StartTimeout;
        last_error_ = "not ready within " + std::to_string(profile_->ready_timeout_s) + " s";
        enter_stopping(last_error_);
    });
    probe_ports();
}

void SupervisedProcess::enter_running(const std::string& how) {
    deadline_.cancel();
    probe_timer_.cancel();
    ready_at_ = Clock::now();
    set_state(ProcessState::Running, "ready in " + seconds_since(started_at_) + ": " + how);
}

void SupervisedProcess::enter_backoff(milliseconds delay, const std::string& why) {
    set_state(ProcessState::Backoff,
              why + "; next start in " + std::to_string(delay.count()) + " ms");
    arm_deadline(delay, [this] { enter_starting(); });
}

void SupervisedProcess::enter_stopping(const std::string& why) {
    probe_timer_.cancel();
    const std::string how = group_->request_stop();
    set_state(ProcessState::Stopping, why + ": " + how);
    arm_deadline(std::chrono::seconds(profile_->stop_timeout_s), [this, how] {
        if (!group_) {
            return;  // a queued expiry can outlive the group
        }
        if (!start_timed_out_) {
            reason_ = ExitReason::StopTimeout;
        }
        spdlog::warn("{}: still running {} s after {}: {}", name(), profile_->stop_timeout_s, how,
                     group_->kill());
    });
    check_group_drained();
}

void SupervisedProcess::enter_fatal(const std::string& why) {
    reason_ = reason_ == ExitReason::None ? ExitReason::RetriesExhausted : reason_;
    last_error_ = why;
    set_state(ProcessState::Fatal, "gave up: " + why);
}

void SupervisedProcess::fail_before_spawn(ExitReason reason, const std::string& why) {
    reason_ = reason;
    last_error_ = why;
    ++failures_;
    if (failures_ > profile_->restart.max_retries || profile_->restart.policy == "never") {
        enter_fatal(why + " (" + std::to_string(failures_) + " failed start" +
                    (failures_ == 1 ? "" : "s") + ")");
        return;
    }
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    enter_backoff(backoff_delay(profile_->restart, failures_, jitter(random_)),
                  to_string(reason) + ": " + why);
}

bool SupervisedProcess::on_child_reaped(int pid, ExitStatus status) {
    if (pid != pid_ || pid_ < 0) {
        return false;
    }
    on_main_exited(status);
    return true;
}

void SupervisedProcess::on_main_exited(ExitStatus status) {
    main_exited_ = true;
    exit_status_ = status;
    pid_ = -1;
    if (state_ == ProcessState::Starting || state_ == ProcessState::Running) {
        last_error_ = exit_status_.describe();
        reason_ = exit_status_.signaled ? ExitReason::Signal : ExitReason::ExitCode;
        if (group_->alive()) {
            // The start script is gone but part of its group (a JVM) lives on: end it before
            // anything is started again on the same ports.
            set_state(ProcessState::Exited,
                      exit_status_.describe() + "; stopping the rest of its group");
            group_->request_stop();
            arm_deadline(std::chrono::seconds(profile_->stop_timeout_s), [this] {
                if (group_) {
                    group_->kill();
                }
            });
        }
    }
}

void SupervisedProcess::check_group_drained() {
    if (group_ && main_exited_ && !group_->alive()) {
        after_group_drained();
    }
}

void SupervisedProcess::after_group_drained() {
    deadline_.cancel();
    probe_timer_.cancel();
    group_.reset();
    remove_record();
    const bool was_ready = ready_at_.has_value();
    const auto ready_for =
        was_ready ? std::optional<milliseconds>(
                        std::chrono::duration_cast<milliseconds>(Clock::now() - *ready_at_))
                  : std::nullopt;
    if (!want_up_) {
        set_state(ProcessState::Stopped, exit_status_.describe());
        return;
    }
    if (state_ == ProcessState::Stopping && !start_timed_out_) {
        enter_starting();  // a restart: stop finished, start again (not a failure)
        ++restarts_;
        return;
    }
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    const RestartDecision decision = decide_after_exit(
        profile_->restart, exit_status_, start_timed_out_, failures_, ready_for, jitter(random_));
    failures_ = decision.failures;
    const std::string what = start_timed_out_ ? last_error_ : exit_status_.describe();
    using Action = RestartDecision::Action;
    switch (decision.action) {
        case Action::RestartNow:
            ++restarts_;
            reason_ = ExitReason::RestartRequested;
            spdlog::info("{}: {} is a restart request", name(), what);
            enter_starting();
            break;
        case Action::RestartAfter:
            ++restarts_;
            enter_backoff(decision.delay, what + ", failure " + std::to_string(failures_) + " of " +
                                              std::to_string(profile_->restart.max_retries));
            break;
        case Action::GiveUp:
            enter_fatal(std::to_string(failures_) + " failures in a row; last: " + what);
            break;
        case Action::StayExited:
            set_state(ProcessState::Exited, what);
            break;
    }
}

void SupervisedProcess::arm_deadline(milliseconds after, std::function<void()> on_expiry) {
    deadline_.expires_after(after);
    deadline_.async_wait([on_expiry = std::move(on_expiry)](const boost::system::error_code& ec) {
        if (!ec) {
            on_expiry();
        }
    });
}

// A read of an earlier run's pipe can complete after a restart has put the next run's pipe in
// its place (its EOF, or its cancellation when that pipe was replaced): the generation tells
// such a completion apart, so it can neither close the new pipe nor log into it.
void SupervisedProcess::read_output() {
    output_->async_read_some(
        asio::buffer(buffer_), [this, generation = output_generation_](
                                   const boost::system::error_code& ec, std::size_t n) {
            if (generation != output_generation_) {
                return;
            }
            if (ec) {
                output_.reset();  // EOF: every writer (script, JVM) has closed the pipe
                return;
            }
            const std::string_view chunk(buffer_.data(), n);
            log_.write(chunk);
            if (output_listener_) {
                output_listener_(chunk);
            }
            if (state_ == ProcessState::Starting && profile_->ready_mode == "line-or-port") {
                scan_for_startup_line(chunk);
            }
            read_output();
        });
}

void SupervisedProcess::scan_for_startup_line(std::string_view chunk) {
    partial_line_.append(chunk);
    const std::string& marker = profile_->table->startup_line;
    std::size_t newline;
    while ((newline = partial_line_.find('\n')) != std::string::npos) {
        const std::string line = partial_line_.substr(0, newline);
        partial_line_.erase(0, newline + 1);
        if (!marker.empty() && line.find(marker) != std::string::npos &&
            state_ == ProcessState::Starting) {
            enter_running("startup line");
            partial_line_.clear();
            return;
        }
    }
    if (partial_line_.size() > kMaxPartialLine) {
        partial_line_.erase(0, partial_line_.size() - kMaxPartialLine);
    }
}

std::vector<int> SupervisedProcess::readiness_ports() const {
    std::vector<int> ports;
    for (const auto& port : profile_->ports) {
        const bool wanted = profile_->ready_mode == "all-ports"
                                ? (port.reserved && port.default_open)
                                : port.ready_probe;
        if (wanted) {
            ports.push_back(port.effective(offset_));
        }
    }
    return ports;
}

// Connect attempts to the readiness ports, repeated on a timer until all accept or the state
// changes. Timers and connects are events on the loop; nothing blocks.
void SupervisedProcess::probe_ports() {
    const std::vector<int> ports = readiness_ports();
    if (ports.empty() || state_ != ProcessState::Starting) {
        return;
    }
    probes_.clear();
    auto accepted = std::make_shared<std::size_t>(0);
    auto pending = std::make_shared<std::size_t>(ports.size());
    const auto generation = started_at_;
    for (const int port : ports) {
        probes_.push_back(std::make_unique<asio::ip::tcp::socket>(io_));
        auto& socket = *probes_.back();
        socket.async_connect(
            {asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port)},
            [this, accepted, pending, generation, port](const boost::system::error_code& ec) {
                if (ec == asio::error::operation_aborted || generation != started_at_) {
                    return;
                }
                *accepted += ec ? 0 : 1;
                if (--*pending > 0 || state_ != ProcessState::Starting) {
                    return;
                }
                if (*accepted == readiness_ports().size()) {
                    enter_running(
                        "port " + std::to_string(port) +
                        (readiness_ports().size() > 1 ? " and the others accept" : " accepts") +
                        " connections");
                    return;
                }
                probe_timer_.expires_after(kProbeInterval);
                probe_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
                    if (!wait_ec) {
                        probe_ports();
                    }
                });
            });
    }
}

void SupervisedProcess::write_record() const {
    InstanceRecord record;
    record.name = name();
    record.pid = pid_;
    record.pgid = pgid();
    const auto stat = read_proc_stat(pid_);
    record.start_time = stat ? stat->start_time : 0;
    record.offset = offset_;
    record.home = profile_->home;
    record.launcher_pid = current_pid();
    try {
        std::filesystem::create_directories(paths_.record_file.parent_path());
        write_file_atomically(paths_.record_file, render_instance_record(record), {},
                              Durability::ProcessCrash);
    } catch (const std::exception& e) {
        spdlog::error(
            "{}: cannot write {}: {}; a launcher started after a crash will not find "
            "this instance",
            name(), paths_.record_file.string(), e.what());
    }
}

void SupervisedProcess::remove_record() const {
    std::error_code ec;
    std::filesystem::remove(paths_.record_file, ec);
}

}  // namespace carbon
