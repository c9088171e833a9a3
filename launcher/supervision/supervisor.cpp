#include "supervision/supervisor.hpp"
#include "control/control_session.hpp"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <set>

#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "fleet_order.hpp"
#include "os/host_ports.hpp"
#include "os/paths.hpp"
#include "os/process_probe.hpp"
#include "plan_report.hpp"
#include "planning/config_edits.hpp"
#include "planning/host_checks.hpp"
#include "planning/preflight.hpp"
#include "planning/state_store.hpp"
#include "split_wiring.hpp"
#include "version.hpp"

namespace asio = boost::asio;

namespace carbon {
namespace {

/// Writes each instance's offset into its config file before anything starts; one bad file
/// and nothing is written (ConfigError).
void write_configs(const Plan& plan) {
    std::vector<const InstancePlan*> instances;
    for (const auto& instance : plan.instances) {
        instances.push_back(&instance);
    }
    const auto edits = compute_config_edits(plan, instances, false);
    write_config_edits(edits);
    for (const auto& edit : edits) {
        if (edit.changes()) {
            spdlog::info("wrote the offset or peer settings into {}", edit.file.string());
        }
    }
}

// Where the plan put an instance. The peer settings count too: a split pack whose peer moved is
// re-wired and restarted. The profile's own fingerprint is compared apart, from the profile the
// instance keeps, rather than copied into every entry of placements_.
std::string placement(const Plan& plan, const InstancePlan& planned) {
    return "@" + std::to_string(planned.offset) + "|" + wiring_fingerprint(plan, planned);
}

}  // namespace

Supervisor::Supervisor(asio::io_context& io, CommonOptions options, SupervisorSeams seams)
    : io_(io),
      options_(std::move(options)),
      seams_(std::move(seams)),
      signals_(io),
      notifier_(io),
      extend_timer_(io) {
    add_os_signals();
}

Supervisor::~Supervisor() = default;

InstancePaths Supervisor::paths_for(const std::string& name) const {
    return {options_.state() / "logs" / (name + ".log"),
            options_.state() / "instances" / (name + ".json"), options_.state() / "dumps"};
}

int Supervisor::run() {
    // Nothing half done: what can fail is checked before anything is stopped or written.
    preflight_run(options_.state(), options_.socket());
    if (!become_child_subreaper()) {
        spdlog::warn(
            "cannot become a child subreaper: a JVM whose start script dies escapes supervision");
    }
    wait_for_signals();                     // SIGCHLD from the start, so no child is left a zombie
    auto session = load_session(options_);  // bad profiles: ConfigError before anything runs
    containment_ = seams_.containment ? seams_.containment(options_.state())
                                      : Containment::set_up(options_.state());
    spdlog::info("containment: {}", containment_->describe());
    host_ = seams_.host ? seams_.host(containment_) : std::make_shared<OsRunHost>(containment_);
    // A leftover gets its profile's stop timeout; one whose profile is gone, the default.
    std::map<std::string, std::chrono::seconds> stop_timeouts;
    for (const auto& profile : session->profiles) {
        stop_timeouts[profile.name] = std::chrono::seconds(profile.stop_timeout_s);
    }
    auto stop_timeout_of = [stop_timeouts](const std::string& name) {
        const auto found = stop_timeouts.find(name);
        return found != stop_timeouts.end() ? found->second
                                            : std::chrono::seconds(Profile{}.stop_timeout_s);
    };
    // Phase one, on this same loop: stop what a crashed launcher left running. A SIGTERM
    // meanwhile is a shutdown like any other; nothing of ours has started.
    std::shared_ptr<PlanningSession> loaded(std::move(session));
    leftovers_ = std::make_unique<LeftoverCleanup>(io_, options_.state(), *containment_,
                                                   stop_timeout_of, [this, loaded] {
                                                       leftovers_.reset();
                                                       start_supervising(loaded);
                                                   });
    io_.run();
    control_.reset();
    return exit_code_;
}

// Phase two: plan once (the leftovers' ports are free now), write the configs, start.
void Supervisor::start_supervising(std::shared_ptr<PlanningSession> session) {
    if (shutting_down_) {
        spdlog::info("stopped before anything was started");
        finish_if_all_down();
        return;
    }
    plan_session(*session, load_sticky_offsets(options_.state()), HostPorts());
    if (!session->plan.ok()) {
        for (const auto& line : describe_plan_conflicts(session->plan, "nothing was started")) {
            spdlog::error("{}", line);
        }
        exit_code_ = kExitUnavailable;
        signals_.cancel();
        io_.stop();
        return;
    }
    try {  // a JDK outside the pack's range, too little memory: refuse before anything starts
        require_host_checks(*session, options_.state(),
                            [](const std::string& warning) { spdlog::warn("{}", warning); });
    } catch (const ExitError& e) {
        spdlog::error("{}", e.what());
        exit_code_ = e.exit_code();
        signals_.cancel();
        io_.stop();
        return;
    }
    // Bound before any config is written; clients are served once this handler returns.
    control_ = open_control_socket(
        io_, ControlSocketOptions{options_.socket(), options_.socket_group}, *this);
    write_configs(session->plan);
    save_sticky_offsets(options_.state(), session->plan);
    adopt_plan(session);
    keep_service_manager_waiting();
    update_service_status();
}

void Supervisor::adopt_plan(const std::shared_ptr<PlanningSession>& session) {
    for (const auto& planned : session->plan.instances) {
        add_instance(planned, session);
    }
    start_what_is_due();
}

void Supervisor::add_instance(const InstancePlan& planned,
                              std::shared_ptr<PlanningSession> session) {
    // The profile shares the session's lifetime: it points into the session's port tables.
    std::shared_ptr<const Profile> profile(session, planned.profile);
    const std::string name = profile->name;
    placements_[name] = placement(session->plan, planned);
    auto instance = std::make_unique<SupervisedProcess>(
        io_, profile, planned.offset, paths_for(name), host_,
        [this](SupervisedProcess& changed) { on_state_change(changed); });
    instance->set_output_listener([this, name](std::string_view chunk) {
        if (control_) {
            control_->broadcast_log(name, chunk);
        }
    });
    instances_[name] = std::move(instance);
    static_status_text_.erase(name);  // a reload may have changed its offset or ports
    spdlog::info("{}: {} at offset {} ({})", name, profile->runtime, planned.offset,
                 to_string(planned.source));
}

void Supervisor::wait_for_signals() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (ec) {
            return;
        }
        on_signal(signal);
        wait_for_signals();
    });
}

// Ctrl-C: a graceful stop; a second one kills.
void Supervisor::interrupt() {
    if (++interrupts_ > 1) {
        spdlog::warn("second interrupt: killing every instance");
        if (leftovers_) {
            leftovers_->kill_now();
        }
        for (auto& [name, instance] : instances_) {
            instance->kill_now();
        }
        return;
    }
    spdlog::info("interrupt: stopping every instance");
    begin_shutdown();
}

void Supervisor::request_shutdown() {
    asio::post(io_, [this] { begin_shutdown(); });
}

void Supervisor::for_each_instance(const std::function<void(SupervisedProcess&)>& action) {
    for (auto& [name, instance] : instances_) {
        action(*instance);
    }
    for (auto& instance : retiring_) {
        action(*instance);
    }
}

void Supervisor::on_state_change(SupervisedProcess& instance) {
    if (control_) {
        control_->broadcast_state(instance_status(instance));
    }
    update_service_status();
    const auto retired = std::find_if(retiring_.begin(), retiring_.end(),
                                      [&](const auto& r) { return r.get() == &instance; });
    if (retired != retiring_.end() && !instance.has_processes() && !is_live(instance.state())) {
        forget_retired(&instance);
    }
    if (shutting_down_) {
        stop_what_is_due();
        finish_if_all_down();
    } else if (instance.state() == ProcessState::Running) {
        start_what_is_due();
    }
}

FleetOrder Supervisor::fleet_order() const {
    std::vector<FleetMember> members;
    for (const auto& [name, instance] : instances_) {
        members.push_back({name, instance->profile().after, instance->state(), instance->wants_up(),
                           instance->has_processes(), instance->ever_started(),
                           instance->profile().autostart});
    }
    std::vector<std::string> retiring;
    for (const auto& instance : retiring_) {
        retiring.push_back(instance->name());
    }
    return FleetOrder(std::move(members), std::move(retiring));
}

void Supervisor::start_what_is_due() {
    if (shutting_down_) {
        return;
    }
    for (const auto& name : fleet_order().due_to_start()) {
        instances_.at(name)->start();
    }
}

void Supervisor::stop_what_is_due() {
    for (const auto& name : fleet_order().due_to_stop()) {
        instances_.at(name)->stop();
    }
}

void Supervisor::begin_shutdown() {
    if (shutting_down_) {
        return;
    }
    shutting_down_ = true;
    notifier_.stopping();
    keep_service_manager_waiting();
    stop_what_is_due();
    finish_if_all_down();
}

void Supervisor::finish_if_all_down() {
    // The leftovers' phase ends in start_supervising(), which finishes then.
    if (!shutting_down_ || leftovers_ || !fleet_order().all_down()) {
        return;
    }
    spdlog::info("every instance has stopped");
    extend_timer_.cancel();
    if (control_) {
        control_->close();
    }
    signals_.cancel();
    io_.stop();
}

ReloadResult Supervisor::reload() {
    if (shutting_down_) {
        return ReloadResult::refused("the launcher is stopping every instance");
    }
    if (leftovers_) {
        spdlog::warn("reload: ignored while an earlier launcher's instances are being stopped");
        return ReloadResult::refused(
            "ignored while an earlier launcher's instances are being stopped; retry");
    }
    spdlog::info("reloading the profiles from {}", options_.profiles().string());
    ReloadResult result;
    notifier_.reloading();
    struct ReadyAgain {  // whatever the outcome, the service is ready again afterwards
        ServiceNotifier& notifier;
        ~ReadyAgain() { notifier.ready(); }
    } ready_again{notifier_};
    std::unique_ptr<PlanningSession> session;
    try {
        session = load_session(options_);
        StickyOffsets current = load_sticky_offsets(options_.state());
        for (const auto& [name, instance] : instances_) {
            current[name] = instance->offset();
        }
        // The ports the launcher's own groups hold, retiring ones included, are not conflicts.
        const HostPortsExcept host([this](int pid) { return owns_process(pid); });
        plan_session(*session, current, host);
        if (!session->plan.ok()) {
            for (const auto& conflict : session->plan.conflicts) {
                spdlog::error("reload: {}", conflict.message);
            }
            spdlog::error("reload: the new plan has conflicts; keeping the running configuration");
            return ReloadResult::refused(
                "the new plan has conflicts (see carbon-launcher plan); the running "
                "configuration stays");
        }
        write_configs(session->plan);
        save_sticky_offsets(options_.state(), session->plan);
    } catch (const std::exception& e) {
        spdlog::error("reload failed, keeping the running configuration: {}", e.what());
        return ReloadResult::refused(
            std::string("reload failed, the running configuration stays: ") + e.what());
    }
    std::shared_ptr<PlanningSession> shared(std::move(session));
    std::set<std::string> planned_names;
    for (const auto& planned : shared->plan.instances) {
        const std::string& name = planned.profile->name;
        planned_names.insert(name);
        const auto it = instances_.find(name);
        if (it != instances_.end() &&
            it->second->profile().fingerprint == planned.profile->fingerprint &&
            placements_[name] == placement(shared->plan, planned)) {
            continue;  // unchanged: not touched
        }
        if (it != instances_.end()) {
            spdlog::info("reload: {} changed: restarting it", name);
            result.changed.push_back(name);
            auto replaced = std::move(it->second);
            instances_.erase(it);
            retire(std::move(replaced));
        } else {
            spdlog::info("reload: {} is new", name);
            result.added.push_back(name);
        }
        add_instance(planned, shared);
    }
    for (auto it = instances_.begin(); it != instances_.end();) {
        if (planned_names.count(it->first)) {
            ++it;
            continue;
        }
        spdlog::info("reload: {} was removed: stopping it", it->first);
        result.removed.push_back(it->first);
        auto removed = std::move(it->second);
        it = instances_.erase(it);
        retire(std::move(removed));
    }
    start_what_is_due();
    return result;
}

void Supervisor::retire(std::unique_ptr<SupervisedProcess> instance) {
    const ProcessState before = instance->state();
    instance->stop();
    retiring_.push_back(std::move(instance));
    const SupervisedProcess& retired = *retiring_.back();
    // Stopped, Exited or Fatal with nothing running: stop() changed nothing, so no state change
    // will take it out of retiring_, and everything a reload added would wait for it forever.
    if (retired.state() == before && !retired.has_processes() && !is_live(before)) {
        forget_retired(&retired);
    }
}

// Posted, never done in place: a handler of the instance that is already queued (its own state
// change, a timer that expired) runs first, while the object still exists.
void Supervisor::forget_retired(const SupervisedProcess* gone) {
    asio::post(io_, [this, gone] {
        std::erase_if(retiring_, [gone](const auto& r) { return r.get() == gone; });
        start_what_is_due();
        finish_if_all_down();
    });
}

bool Supervisor::owns_process(int pid) const {
    const auto owns = [pid](const SupervisedProcess& instance) {
        return instance.owns_process(pid);
    };
    return std::any_of(instances_.begin(), instances_.end(),
                       [&](const auto& entry) { return owns(*entry.second); }) ||
           std::any_of(retiring_.begin(), retiring_.end(),
                       [&](const auto& instance) { return owns(*instance); });
}

// What changes from moment to moment.
nlohmann::json Supervisor::live_status(const SupervisedProcess& instance) const {
    using Clock = SupervisionClock;
    const auto since = instance.ready_at().value_or(instance.started_at());
    const bool live = instance.has_processes();
    const std::optional<int> jvm = instance.jvm_pid();
    return {
        {"state", to_string(instance.state())},
        {"reason", to_string(instance.reason())},
        {"last_error", instance.last_error()},
        {"waiting_for", waiting_for(instance)},
        {"pid", instance.pid() > 0 ? nlohmann::json(instance.pid()) : nlohmann::json(nullptr)},
        {"pgid", live ? nlohmann::json(instance.pgid()) : nlohmann::json(nullptr)},
        {"containment", live ? nlohmann::json(instance.containment()) : nlohmann::json(nullptr)},
        {"jvm_pid", jvm ? nlohmann::json(*jvm) : nlohmann::json(nullptr)},
        {"uptime_s", live ? std::chrono::duration<double>(Clock::now() - since).count() : 0.0},
        {"restarts", instance.restarts()},
        {"health", instance.health_status()},
        {"last_output", nlohmann::json(std::vector<std::string>(instance.last_output().begin(),
                                                                instance.last_output().end()))},
        {"ready_ports", instance.state() == ProcessState::Running
                            ? nlohmann::json(instance.readiness_ports())
                            : nlohmann::json::array()}};
}

std::string Supervisor::waiting_for(const SupervisedProcess& instance) const {
    if (instance.ever_started() || !instance.profile().autostart || shutting_down_) {
        return "";
    }
    std::string blockers;
    const auto add = [&blockers](const std::string& blocker) {
        blockers += (blockers.empty() ? "" : ", ") + blocker;
    };
    for (const auto& name : instance.profile().after) {
        const auto found = instances_.find(name);
        if (found != instances_.end() && found->second->state() != ProcessState::Running) {
            add(name + " (" + to_string(found->second->state()) + ")");
        }
    }
    for (const auto& old : retiring_) {
        add("the old " + old->name() + " to stop");
    }
    return blockers;
}

// What stays as long as the instance exists: serialized once for `status`.
nlohmann::json Supervisor::static_status(const SupervisedProcess& instance) const {
    const Profile& profile = instance.profile();
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& port : profile.ports) {
        if (port.reserved && port.default_open) {
            ports.push_back(
                {{"port", port.effective(instance.offset())}, {"purpose", port.purpose}});
        }
    }
    InstancePlan planned;
    planned.profile = &profile;
    planned.offset = instance.offset();
    nlohmann::json urls = nlohmann::json::array();
    for (const auto& [name, url] : instance_urls(planned)) {
        urls.push_back({{"name", name}, {"url", url}});
    }
    return {{"name", instance.name()},
            {"runtime", profile.runtime},
            {"offset", instance.offset()},
            {"ports", ports},
            {"urls", urls},
            {"home", profile.home.string()},
            {"log_file", instance.log_file().string()}};
}

nlohmann::json Supervisor::instance_status(const SupervisedProcess& instance) const {
    nlohmann::json status = static_status(instance);
    status.update(live_status(instance));
    return status;
}

std::string Supervisor::status_text(const std::string& name,
                                    const SupervisedProcess& instance) const {
    std::string& fixed = static_status_text_[name];
    if (fixed.empty()) {
        const std::string whole = serialize_control_message(static_status(instance));
        fixed = whole.substr(1, whole.size() - 2);  // the members without the braces
    }
    std::string live = serialize_control_message(live_status(instance));
    live.back() = ',';
    return live + fixed + "}";
}

// One page of status or watch: instances in name order after the request's cursor, until the
// page reaches kStatusPageBytes (or the request's limit), so that no reply outgrows a client's
// output bound however many instances there are. "cursor" says more follow.
std::string Supervisor::status_page(const ControlRequest& request) const {
    const std::set<std::string> wanted(request.names.begin(), request.names.end());
    const std::size_t limit = request.limit > 0 ? static_cast<std::size_t>(request.limit)
                                                : std::numeric_limits<std::size_t>::max();
    std::string text = R"({"instances":[)";
    std::size_t count = 0;
    std::string last;
    auto it = request.cursor.empty() ? instances_.begin() : instances_.upper_bound(request.cursor);
    for (; it != instances_.end(); ++it) {
        if (!wanted.empty() && wanted.count(it->first) == 0) {
            continue;
        }
        if (count == limit || text.size() >= kStatusPageBytes) {
            break;  // `it` is wanted: there is a next page
        }
        text += (count++ == 0 ? "" : ",") + status_text(it->first, *it->second);
        last = it->first;
    }
    text += R"(],"launcher":)" + serialize_control_message(launcher_status());
    if (it != instances_.end()) {
        text += R"(,"cursor":)" + serialize_control_message(last);
    }
    return text + "}";
}

nlohmann::json Supervisor::launcher_status() const {
    return {{"pid", current_pid()},
            {"version", kVersion},
            {"uptime_s",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()},
            {"shutting_down", shutting_down_},
            {"containment", containment_ ? containment_->status() : nlohmann::json(nullptr)}};
}

std::vector<SupervisedProcess*> Supervisor::named_instances(const std::vector<std::string>& names,
                                                            bool empty_means_all) {
    std::vector<SupervisedProcess*> found;
    std::vector<std::string> known;
    for (const auto& [name, instance] : instances_) {
        known.push_back(name);
        if (empty_means_all && names.empty()) {
            found.push_back(instance.get());
        }
    }
    if (names.empty() && !empty_means_all) {
        throw ProtocolError("bad-request", "name at least one instance");
    }
    for (const auto& name : names) {
        const auto it = instances_.find(name);
        if (it == instances_.end()) {
            throw ProtocolError("unknown-instance",
                                "no instance named \"" + name + "\"" + did_you_mean(name, known));
        }
        found.push_back(it->second.get());
    }
    return found;
}

ControlReply Supervisor::handle(const ControlRequest& request, ControlSession& session) {
    const std::string& command = request.command;
    if (shutting_down_ && (command == "start" || command == "restart" || command == "reload")) {
        throw ProtocolError("shutting-down", "the launcher is stopping every instance");
    }
    if (command == "status" || command == "watch") {
        named_instances(request.names, true);  // unknown names are an error
        if (command == "watch") {
            session.watch();  // throws "busy" past the caps on watchers
        }
        return ControlReply::serialized(status_page(request));
    }
    if (command == "reload") {
        return to_json(reload());
    }
    if (command == "logs") {
        if (request.names.size() != 1) {
            throw ProtocolError("bad-request", "logs takes exactly one instance");
        }
        const SupervisedProcess& instance = *named_instances(request.names, false).front();
        if (request.follow) {
            session.follow(instance.name());  // throws "busy" past the caps on followers
        }
        return nlohmann::json{{"name", instance.name()},
                              {"file", instance.log_file().string()},
                              {"data", tail_lines(instance.log_file(), request.lines)}};
    }
    if (command == "dump") {
        return thread_dumps(request.names);
    }
    std::vector<std::string> accepted;
    for (SupervisedProcess* instance : named_instances(request.names, false)) {
        if (command == "start") {
            instance->start();
        } else if (command == "stop") {
            instance->stop();
        } else {
            instance->restart();
        }
        accepted.push_back(instance->name());
    }
    spdlog::info("control: {} {}", command, fmt::join(accepted, " "));
    return nlohmann::json{{"accepted", accepted}};
}

// `dump`: the file each JVM's dump goes to; it is complete once the JVM has printed it (a few
// seconds at most). An instance without a live JVM is an error, named.
nlohmann::json Supervisor::thread_dumps(const std::vector<std::string>& names) {
    nlohmann::json files = nlohmann::json::object();
    std::vector<std::string> failed;
    for (SupervisedProcess* instance : named_instances(names, false)) {
        if (const auto file = instance->take_thread_dump("requested through the control socket")) {
            files[instance->name()] = file->string();
        } else {
            failed.push_back(instance->name());
        }
    }
    if (!failed.empty() && files.empty()) {
        throw ProtocolError(
            "not-running",
            "no thread dump of " + fmt::format("{}", fmt::join(failed, ", ")) +
                ": see the launcher's log for why (no live JVM, or none on Windows)");
    }
    spdlog::info("control: dump {}", files.dump());
    return nlohmann::json{{"dumps", files}, {"failed", failed}};
}

// READY=1 once every autostart instance is Running (or has given up: Fatal, Exited), or with
// --ready-when all-started once every one has been spawned; STATUS= on every change.
void Supervisor::update_service_status() {
    if (!notifier_.active()) {
        return;
    }
    int autostart = 0;
    int ready = 0;
    int settled = 0;
    std::string waiting_for;
    for (const auto& [name, instance] : instances_) {
        if (!instance->profile().autostart) {
            continue;
        }
        ++autostart;
        const ProcessState state = instance->state();
        ready += state == ProcessState::Running ? 1 : 0;
        const bool gave_up = state == ProcessState::Fatal || state == ProcessState::Exited;
        const bool done = options_.ready_when == "all-started"
                              ? instance->ever_started()
                              : state == ProcessState::Running || gave_up;
        settled += done ? 1 : 0;
        if (state != ProcessState::Running && waiting_for.empty()) {
            const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                SupervisionClock::now() - instance->started_at());
            waiting_for =
                name + " " + to_string(state) +
                (state == ProcessState::Starting ? " " + std::to_string(seconds.count()) + " s"
                                                 : "");
        }
    }
    notifier_.status(std::to_string(ready) + "/" + std::to_string(autostart) + " ready" +
                     (waiting_for.empty() ? "" : ", " + waiting_for) +
                     (shutting_down_ ? ", stopping" : ""));
    if (!announced_ready_ && !shutting_down_ && settled == autostart) {
        announced_ready_ = true;
        extend_timer_.cancel();
        notifier_.ready();
    }
}

// JVMs take minutes to start and tens of seconds to stop: while the launcher is correctly waiting
// for them, ask systemd for more time instead of being killed by TimeoutStartSec/TimeoutStopSec.
void Supervisor::keep_service_manager_waiting() {
    if (!notifier_.active()) {
        return;
    }
    constexpr auto kEvery = std::chrono::seconds(10);
    notifier_.extend_timeout(std::chrono::duration_cast<std::chrono::microseconds>(3 * kEvery));
    extend_timer_.expires_after(kEvery);
    extend_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && (!announced_ready_ || shutting_down_)) {
            update_service_status();
            keep_service_manager_waiting();
        }
    });
}

}  // namespace carbon
