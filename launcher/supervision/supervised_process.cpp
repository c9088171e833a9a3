#include "supervision/supervised_process.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>

#include "instance_record.hpp"
#include "os/atomic_file.hpp"
#include "os/process_probe.hpp"

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace carbon {
namespace {

constexpr milliseconds kProbeInterval{250};
constexpr std::size_t kMaxPartialLine = 8192;
constexpr std::size_t kTailLines = 10;  // kept for `status` and the exit message
constexpr std::size_t kMaxTailLineBytes = 400;

std::string seconds_since(SupervisionClock::time_point since) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s",
                  std::chrono::duration<double>(SupervisionClock::now() - since).count());
    return text;
}

MachineSettings machine_settings(const Profile& profile) {
    MachineSettings settings;
    settings.restart = profile.restart;
    settings.start_timeout = std::chrono::seconds(profile.ready_timeout_s);
    settings.stop_timeout = std::chrono::seconds(profile.stop_timeout_s);
    settings.exit_status_masked =
        profile.table != nullptr && profile.table->masks_exit_status(profile.script);
    settings.script_name = profile.script.filename().string();
    return settings;
}

}  // namespace

SupervisedProcess::SupervisedProcess(asio::io_context& io, std::shared_ptr<const Profile> profile,
                                     int offset, InstancePaths paths, std::shared_ptr<RunHost> host,
                                     StateListener on_change)
    : io_(io),
      profile_(std::move(profile)),
      offset_(offset),
      paths_(std::move(paths)),
      host_(std::move(host)),
      on_change_(std::move(on_change)),
      log_(paths_.log_file, static_cast<std::uintmax_t>(profile_->log_max_size_mb) * 1024 * 1024,
           profile_->log_max_files),
      machine_(machine_settings(*profile_)),
      deadline_(io),
      probe_timer_(io) {
    const HealthSpec& health = profile_->health;
    if (health.startup || health.readiness || health.liveness) {
        health_ = std::make_unique<HealthMonitor>(
            io_, name(), health,
            [this](const std::string& key) -> std::optional<int> {
                for (const auto& port : profile_->ports) {
                    if (port.key == key) {
                        return port.effective(offset_);
                    }
                }
                return std::nullopt;
            },
            [this](const std::string& how) { apply(machine_.became_ready(how, Clock::now())); },
            [this](const std::string& why) { apply(machine_.liveness_failed(why)); });
    }
}

SupervisedProcess::~SupervisedProcess() = default;

void SupervisedProcess::start() {
    apply(machine_.start());
}

void SupervisedProcess::stop() {
    apply(machine_.stop());
}

void SupervisedProcess::restart() {
    apply(machine_.restart());
}

void SupervisedProcess::kill_now() {
    if (has_processes()) {
        spdlog::warn("{}: {}", name(), group_->kill());
    }
}

// Carries out what the machine decided, in its order: spawn, signal (after a thread dump when it
// asks for one), the probes and the one timer the new state owns, the report.
void SupervisedProcess::apply(const Actions& actions) {
    if (actions.spawn) {
        if (!actions.note.empty()) {
            spdlog::info("{}: {}", name(), actions.note);
        }
        spawn_run();
        return;
    }
    const bool signals = actions.request_stop || actions.kill;
    const bool dumping = signals && actions.thread_dump_first &&
                         start_thread_dump(actions.kill ? "before the kill" : actions.why,
                                           [this, run = machine_.run(), stop = actions.request_stop,
                                            kill = actions.kill] {
                                               if (run == machine_.run()) {
                                                   send_stop_signals(stop, kill);
                                                   check_group_drained();
                                               }
                                           });
    if (signals && !dumping) {
        send_stop_signals(actions.request_stop, actions.kill);
    }
    if (actions.state_changed) {
        follow_with_health(actions.to);
    }
    if (actions.timer_changed) {
        deadline_.cancel();
        if (actions.timer != Deadline::None) {
            arm_deadline(actions.timer_after, actions.timer_token);
        }
    }
    if (actions.state_changed) {
        report(actions);
    } else if (!actions.note.empty()) {
        spdlog::warn("{}: still {} ({})", name(), to_string(state()), actions.note);
        log_.write("[carbon-launcher] still " + to_string(state()) + " (" + actions.note + ")\n");
    }
    if (actions.request_stop) {
        check_group_drained();  // a group may already be gone
    }
}

void SupervisedProcess::send_stop_signals(bool request_stop, bool kill) {
    if (request_stop && group_) {
        probe_timer_.cancel();
        stop_how_ = group_->request_stop();
    }
    if (kill && group_) {
        spdlog::warn("{}: still running {} s after {}: {}", name(), profile_->stop_timeout_s,
                     stop_how_.empty() ? "the stop request" : stop_how_, group_->kill());
    }
}

// Starting: the startup and readiness probes decide when it is ready; Running: the liveness
// probe watches it; in any other state no probe runs.
void SupervisedProcess::follow_with_health(ProcessState state) {
    if (!health_) {
        return;
    }
    if (state == ProcessState::Starting && health_->decides_readiness()) {
        health_->watch_start(profile_->ready_mode != ReadyMode::AllPorts);
    } else if (state == ProcessState::Running) {
        health_->watch_liveness();
    } else {
        health_->stop();
    }
}

// The server is up (startup line, or its ports): Running, unless a readiness probe must pass
// first.
void SupervisedProcess::server_up(const std::string& how) {
    if (probes_decide_readiness()) {
        health_->server_up(how);
    } else {
        apply(machine_.became_ready(how, Clock::now()));
    }
}

bool SupervisedProcess::start_thread_dump(const std::string& why, std::function<void()> then) {
    if (!group_ || (dump_ && dump_->open())) {
        return false;
    }
    const auto jvm = jvm_pid();
    if (!jvm) {
        spdlog::warn("{}: no thread dump: no live JVM pid in its pid file", name());
        return false;
    }
    const auto how = group_->request_thread_dump(*jvm);
    if (!how) {
        return false;
    }
    spdlog::warn("{}: thread dump ({}): {}", name(), why, *how);
    const std::string header = "[carbon-launcher] thread dump of " + name() + ", JVM pid " +
                               std::to_string(*jvm) + " (" + why + "): " + *how;
    dump_ = std::make_unique<ThreadDumpCapture>(
        io_, DumpPolicy{paths_.dump_directory, name()}, header,
        [this, then = std::move(then)](const std::filesystem::path& file) {
            ++dumps_taken_;
            last_dump_ = file;
            spdlog::warn("{}: thread dump written to {}", name(), file.string());
            log_.write("[carbon-launcher] thread dump written to " + file.string() + "\n");
            if (then) {
                then();
            }
        });
    return true;
}

std::optional<std::filesystem::path> SupervisedProcess::take_thread_dump(const std::string& why) {
    if (!start_thread_dump(why, nullptr)) {
        return std::nullopt;
    }
    return dump_->file();
}

nlohmann::json SupervisedProcess::health_status() const {
    nlohmann::json status = health_ ? health_->status() : nlohmann::json::object();
    status["dumps_taken"] = dumps_taken_;
    status["last_dump"] =
        last_dump_.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_dump_.string());
    return status;
}

// Logs the edge and tells the supervisor later on the loop: whatever it does in response (stop
// this instance during a shutdown, start its dependents) cannot interleave with this edge.
void SupervisedProcess::report(const Actions& actions) {
    std::string why = actions.why;
    if (actions.request_stop && !stop_how_.empty()) {
        why += ": " + stop_how_;
    }
    const auto level = (actions.to == ProcessState::Fatal || actions.to == ProcessState::Backoff)
                           ? spdlog::level::warn
                           : spdlog::level::info;
    spdlog::log(level, "{}: {} -> {} ({})", name(), to_string(actions.from), to_string(actions.to),
                why);
    log_.write("[carbon-launcher] " + to_string(actions.from) + " -> " + to_string(actions.to) +
               " (" + why + ")\n");
    asio::post(io_, [this, alive = std::weak_ptr<int>(alive_)] {
        if (alive.lock()) {
            on_change_(*this);
        }
    });
}

void SupervisedProcess::arm_deadline(milliseconds after, std::uint64_t token) {
    deadline_.expires_after(after);
    deadline_.async_wait([this, token](const boost::system::error_code& ec) {
        if (!ec) {
            apply(machine_.deadline_expired(token));
        }
    });
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
    if (jvm_pid_cache_.pid) {
        last_jvm_pid_ = jvm_pid_cache_.pid;
    }
    return jvm_pid_cache_.pid;
}

// The shell's half of (STOPPED|EXITED|FATAL|BACKOFF) -> STARTING: the checks that need the OS,
// then the spawn; the machine hears which of the two happened.
void SupervisedProcess::spawn_run() {
    if (auto refusal = host_->refuse_start(*profile_, offset_)) {
        apply(machine_.spawn_failed(refusal->reason, refusal->why));
        return;
    }
    try {
        group_ = host_->spawn(io_, *profile_, offset_);
    } catch (const std::system_error& e) {
        apply(machine_.spawn_failed(ExitReason::SpawnFailed, e.what()));
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
    stop_how_.clear();
    last_jvm_pid_.reset();
    started_at_ = Clock::now();
    partial_line_.clear();
    output_tail_.clear();
    tail_partial_.clear();
    output_ = group_->take_output(io_);
    write_record();
    apply(machine_.spawned("pid " + std::to_string(pid_) + ", offset " + std::to_string(offset_),
                           started_at_));
    if (output_) {
        read_output();
    }
    probe_ports();
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
    pid_ = -1;
    jvm_pid();  // the last chance to read the pid file while the group still exists
    apply(machine_.main_exited(status, group_ && group_->alive(), last_jvm_pid_));
}

void SupervisedProcess::check_group_drained() {
    if (!group_ || !main_exited_ || group_->alive()) {
        return;
    }
    deadline_.cancel();
    probe_timer_.cancel();
    if (health_) {
        health_->stop();
    }
    group_.reset();
    remove_record();
    const bool unrequested =
        machine_.state() != ProcessState::Stopping || machine_.stopped_by_failure();
    if (!output_tail_.empty() && unrequested) {
        spdlog::info("{}: its last output: {}", name(), output_tail_.back());
    }
    apply(machine_.group_drained(Clock::now()));
}

// A read of an earlier run's pipe can complete after a restart has put the next run's pipe in
// its place (its EOF, or its cancellation when that pipe was replaced): the run number tells
// such a completion apart, so it can neither close the new pipe nor log into it.
void SupervisedProcess::read_output() {
    output_->async_read_some(
        asio::buffer(buffer_.get(), kOutputChunk),
        [this, alive = std::weak_ptr<int>(alive_), run = machine_.run()](
            const boost::system::error_code& ec, std::size_t n) {
            // Destroying the instance (a reload retired it) cancels this read, whose handler
            // then runs after the instance has gone.
            if (!alive.lock() || run != machine_.run()) {
                return;
            }
            if (ec) {
                output_.reset();  // EOF: every writer (script, JVM) has closed the pipe
                return;
            }
            const std::string_view chunk(buffer_.get(), n);
            log_.write(chunk);
            if (dump_ && dump_->open()) {
                dump_->on_output(chunk);
            }
            remember_output(chunk);
            if (output_listener_) {
                output_listener_(chunk);
            }
            if (state() == ProcessState::Starting &&
                profile_->ready_mode == ReadyMode::LineOrPort) {
                scan_for_startup_line(chunk);
            }
            if (output_) {
                read_output();
            }
        });
}

void SupervisedProcess::remember_output(std::string_view chunk) {
    tail_partial_.append(chunk);
    std::size_t newline;
    while ((newline = tail_partial_.find('\n')) != std::string::npos) {
        std::string line = tail_partial_.substr(0, std::min(newline, kMaxTailLineBytes));
        tail_partial_.erase(0, newline + 1);
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.find_first_not_of(" \t") == std::string::npos) {
            continue;
        }
        output_tail_.push_back(std::move(line));
        if (output_tail_.size() > kTailLines) {
            output_tail_.pop_front();
        }
    }
    if (tail_partial_.size() > kMaxPartialLine) {
        tail_partial_.erase(0, tail_partial_.size() - kMaxPartialLine);
    }
}
void SupervisedProcess::scan_for_startup_line(std::string_view chunk) {
    partial_line_.append(chunk);
    const std::string& marker = profile_->table->startup_line;
    std::size_t newline;
    while ((newline = partial_line_.find('\n')) != std::string::npos) {
        const std::string line = partial_line_.substr(0, newline);
        partial_line_.erase(0, newline + 1);
        if (!marker.empty() && line.find(marker) != std::string::npos &&
            state() == ProcessState::Starting) {
            server_up("ready in " + seconds_since(started_at_) + ": startup line");
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
        const bool wanted = profile_->ready_mode == ReadyMode::AllPorts
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
    // With probes, the startup probe takes the place of the table's ready port; all-ports
    // still checks every port.
    const bool replaced = probes_decide_readiness() && profile_->ready_mode != ReadyMode::AllPorts;
    if (ports.empty() || state() != ProcessState::Starting || replaced) {
        return;
    }
    probes_.clear();
    auto accepted = std::make_shared<std::size_t>(0);
    auto pending = std::make_shared<std::size_t>(ports.size());
    const auto run = machine_.run();
    for (const int port : ports) {
        probes_.push_back(std::make_unique<asio::ip::tcp::socket>(io_));
        auto& socket = *probes_.back();
        socket.async_connect(
            {asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port)},
            [this, accepted, pending, run, port](const boost::system::error_code& ec) {
                if (ec == asio::error::operation_aborted || run != machine_.run()) {
                    return;
                }
                *accepted += ec ? 0 : 1;
                if (--*pending > 0 || state() != ProcessState::Starting) {
                    return;
                }
                if (*accepted == readiness_ports().size()) {
                    server_up(
                        "ready in " + seconds_since(started_at_) + ": port " +
                        std::to_string(port) +
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
    record.cgroup = group_->cgroup_directory();
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
