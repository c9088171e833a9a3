#include "cli/control_commands.hpp"

#ifdef _WIN32
#include <io.h>
#define isatty _isatty
#define STDOUT_FILENO 1
#else
#include <unistd.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <set>

#include "cli/cli_options.hpp"
#include "cli/usage_error.hpp"
#include "control/control_client.hpp"
#include "control_protocol.hpp"
#include "exit_codes.hpp"

namespace po = boost::program_options;
using std::chrono::milliseconds;

namespace carbon {
namespace {

using Args = std::vector<std::string>;
constexpr milliseconds kRequestTimeout{10000};

struct ClientOptions {
    CommonOptions common;
    std::vector<std::string> names;
    bool wait = false;
    bool rolling = false;
    bool follow = false;
    int lines = 50;
    int timeout_s = 600;
};

/// Parses the options every control command shares, plus `extra`; prints help when asked.
bool parse_client_options(const std::string& command, const Args& args, ClientOptions& options,
                          const std::string& usage,
                          const std::function<void(po::options_description&)>& extra) {
    po::options_description description(command + " options");
    add_socket_options(description, options.common, false);
    description.add_options()("json", po::bool_switch(&options.common.json),
                              "machine-readable output")("name", po::value(&options.names),
                                                         "instances")("help,h", "this help");
    extra(description);
    po::positional_options_description positional;
    positional.add("name", -1);
    if (wants_help(args)) {
        std::cout << "usage: " << usage << "\n\n" << description;
        return false;
    }
    parse_command_line(command, args, description, positional);
    return true;
}

std::string format_uptime(double seconds) {
    char text[32];
    if (seconds < 120) {
        std::snprintf(text, sizeof text, "%.1fs", seconds);
    } else if (seconds < 7200) {
        std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60,
                      static_cast<int>(seconds) % 60);
    } else {
        std::snprintf(text, sizeof text, "%dh%02dm", static_cast<int>(seconds) / 3600,
                      (static_cast<int>(seconds) / 60) % 60);
    }
    return text;
}

std::string or_dash(const nlohmann::json& value) {
    return value.is_null() ? "-" : value.is_string() ? value.get<std::string>() : value.dump();
}

/// An instance's state as the protocol's enum; a word this CLI does not know is an error that
/// says so, never a state silently treated as "not ready".
ProcessState state_in(const nlohmann::json& instance) {
    try {
        return instance_state(instance);
    } catch (const ProtocolError& e) {
        throw ControlClientError(kExitSoftware, e.what());
    }
}

/// Starting or Running: it has an uptime to show.
bool is_up(ProcessState state) {
    return state == ProcessState::Running || state == ProcessState::Starting;
}

/// One line under the table: what holds each instance's processes together, so an operator
/// knows whether a process that calls setsid() escapes a stop.
void print_containment(const nlohmann::json& result) {
    const auto launcher = result.find("launcher");
    if (launcher == result.end() || !launcher->is_object() || !launcher->contains("containment") ||
        !(*launcher)["containment"].is_object()) {
        return;  // a launcher older than cgroup support
    }
    const auto& containment = (*launcher)["containment"];
    const std::string mode = containment.value("mode", "");
    if (mode == "cgroup" && containment["cgroup"].is_string()) {
        std::printf("containment: cgroup, one per instance under %s\n",
                    containment["cgroup"].get<std::string>().c_str());
    } else if (mode == "process-group") {
        std::printf("containment: process group per instance (a setsid() escapes it): %s\n",
                    containment.value("reason", "").c_str());
    } else if (mode == "job-object") {
        std::printf("containment: job object per instance\n");
    }
}

/// One line under an instance: its last probe and what it found, failures in a row, dumps.
void print_health(const nlohmann::json& instance) {
    const auto health = instance.find("health");
    if (health == instance.end() || !health->is_object()) {
        return;  // a launcher older than health probes
    }
    std::string line;
    const auto& last = (*health)["last"];
    if (last.is_object()) {
        char text[96];
        std::snprintf(text, sizeof text, " (%lld ms, %.0f s ago)",
                      last["latency_ms"].get<long long>(), last["age_s"].get<double>());
        line = last["role"].get<std::string>() + " " + last["target"].get<std::string>() + ": " +
               (last["ok"].get<bool>() ? "ok" : "FAILED") + " " +
               last["detail"].get<std::string>() + text;
        if (const int failures = health->value("liveness_failures_in_a_row", 0); failures > 0) {
            line += "; " + std::to_string(failures) + " of " +
                    std::to_string(health->value("failure_threshold", 0)) + " failures in a row";
        }
    }
    if (const int dumps = health->value("dumps_taken", 0); dumps > 0) {
        line += (line.empty() ? "" : "; ") + std::to_string(dumps) + " thread dump(s), last " +
                (*health)["last_dump"].get<std::string>();
    }
    if (!line.empty()) {
        std::printf("%-16s health: %s\n", "", line.c_str());
    }
}

void print_status_table(const nlohmann::json& result) {
    std::printf("%-16s %-9s %8s %8s %6s %9s %8s  %s\n", "NAME", "STATE", "PID", "JVM", "OFFSET",
                "UPTIME", "RESTARTS", "LAST EXIT / URL");
    for (const auto& instance : result["instances"]) {
        const ProcessState state = state_in(instance);
        std::string note = instance["last_error"].get<std::string>();
        if (state == ProcessState::Running && !instance["urls"].empty()) {
            note = instance["urls"][0]["url"].get<std::string>();
        }
        if (const std::string waiting = instance.value("waiting_for", ""); !waiting.empty()) {
            note = "waiting for " + waiting;  // an `after` that is not Running, a reload's stop
        }
        std::printf("%-16s %-9s %8s %8s %6d %9s %8d  %s\n",
                    instance["name"].get<std::string>().c_str(), to_string(state).c_str(),
                    or_dash(instance["pid"]).c_str(), or_dash(instance["jvm_pid"]).c_str(),
                    instance["offset"].get<int>(),
                    is_up(state) ? format_uptime(instance["uptime_s"]).c_str() : "-",
                    instance["restarts"].get<int>(), note.c_str());
        // Why it ended, in its own words: a JVM that cannot bind a port says so just before.
        const auto tail = instance.find("last_output");
        if (!is_up(state) && tail != instance.end() && tail->is_array() && !tail->empty()) {
            std::printf("%-16s last output: %s\n", "", tail->back().get<std::string>().c_str());
        }
        print_health(instance);
    }
    print_containment(result);
}

/// Progress of long waits: lines updated in place on a terminal, a plain line per change
/// otherwise, nothing with --json.
class Progress {
  public:
    Progress(bool json, std::vector<std::string> names)
        : enabled_(!json), tty_(::isatty(STDOUT_FILENO) != 0), names_(std::move(names)) {}

    void update(const std::string& name, ProcessState state) {
        auto& entry = states_[name];
        if (entry.first == to_string(state)) {
            return;
        }
        entry = {to_string(state), std::chrono::steady_clock::now()};
        if (enabled_ && !tty_) {
            std::cout << name << ": " << to_string(state) << std::endl;
        }
    }

    void redraw() {
        if (!enabled_ || !tty_) {
            return;
        }
        if (drawn_ > 0) {
            std::cout << "\033[" << drawn_ << "A";
        }
        for (const auto& name : names_) {
            const auto it = states_.find(name);
            const std::string state = it == states_.end() ? "?" : it->second.first;
            const double elapsed = it == states_.end()
                                       ? 0
                                       : std::chrono::duration<double>(
                                             std::chrono::steady_clock::now() - it->second.second)
                                             .count();
            std::cout << "\033[K" << name << "  " << state << "  " << format_uptime(elapsed)
                      << "\n";
        }
        drawn_ = static_cast<int>(names_.size());
        std::cout << std::flush;
    }

  private:
    bool enabled_;
    bool tty_;
    std::vector<std::string> names_;
    std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> states_;
    int drawn_ = 0;
};

enum class Goal { Ready, Down };

using States = std::map<std::string, ProcessState>;

bool is_down(ProcessState state) {
    return state == ProcessState::Stopped || state == ProcessState::Exited ||
           state == ProcessState::Fatal;
}

/// Follows state events until every name reaches `goal` after the command (or, with no command,
/// from now). Returns the names that failed or timed out.
std::vector<std::string> follow_until(ControlClient& client, const std::vector<std::string>& names,
                                      Goal goal, const States& before, bool restarting,
                                      int timeout_s, Progress& progress) {
    std::set<std::string> pending(names.begin(), names.end());
    std::vector<std::string> failed;
    for (const auto& name : names) {
        const ProcessState state = before.at(name);
        progress.update(name, state);
        const bool done =
            goal == Goal::Ready ? (state == ProcessState::Running && !restarting) : is_down(state);
        if (done) {
            pending.erase(name);
        }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (!pending.empty()) {
        progress.redraw();
        if (std::chrono::steady_clock::now() >= deadline) {
            failed.insert(failed.end(), pending.begin(), pending.end());
            break;
        }
        const auto message = client.receive(milliseconds(500));
        if (!message || message->value("event", "") != "state") {
            continue;
        }
        const auto& instance = (*message)["instance"];
        const std::string name = instance["name"];
        if (!pending.count(name)) {
            continue;
        }
        const ProcessState state = state_in(instance);
        progress.update(name, state);
        if (goal == Goal::Ready && state == ProcessState::Running) {
            pending.erase(name);
        } else if (goal == Goal::Ready && is_down(state)) {
            failed.push_back(name + " (" + to_string(state) + ": " +
                             instance["last_error"].get<std::string>() + ")");
            pending.erase(name);
        } else if (goal == Goal::Down && is_down(state)) {
            pending.erase(name);
        }
    }
    progress.redraw();
    return failed;
}

States states_of(const nlohmann::json& status) {
    States states;
    for (const auto& instance : status["instances"]) {
        states[instance["name"]] = state_in(instance);
    }
    return states;
}

int report(const std::vector<std::string>& failed, const std::string& what) {
    if (failed.empty()) {
        return kExitOk;
    }
    std::string list;
    for (const auto& name : failed) {
        list += (list.empty() ? "" : ", ") + name;
    }
    std::cerr << "carbon-launcher: error: " << what << ": " << list << "\n";
    return kExitFailure;
}

/// "; started a; restarted b, c; stopped d" after a reload's message; "" when nothing changed.
std::string describe_changes(const ReloadResult& reload) {
    std::string text;
    const auto add = [&](const char* verb, const std::vector<std::string>& names) {
        if (names.empty()) {
            return;
        }
        text += std::string("; ") + verb + " ";
        for (std::size_t i = 0; i < names.size(); ++i) {
            text += (i > 0 ? ", " : "") + names[i];
        }
    };
    add("started", reload.added);
    add("restarted", reload.changed);
    add("stopped", reload.removed);
    return text;
}

/// start / stop / restart, with --wait: watch first (so no event is missed), then command.
int change(const std::string& command, const ClientOptions& options) {
    if (options.names.empty()) {
        throw UsageError(command + ": name at least one instance");
    }
    ControlClient client(options.common.socket());
    States before;
    if (options.wait) {
        before = states_of(client.request_all_pages("watch", options.names, kRequestTimeout));
    }
    const auto result =
        client.request(control_request_json(command, options.names), kRequestTimeout);
    if (!options.wait) {
        if (!options.common.json) {
            std::cout << command << ": " << result["accepted"].size() << " instance(s)\n";
        }
        return kExitOk;
    }
    Progress progress(options.common.json, options.names);
    const Goal goal = command == "stop" ? Goal::Down : Goal::Ready;
    const auto failed = follow_until(client, options.names, goal, before, command == "restart",
                                     options.timeout_s, progress);
    return report(failed, command + " did not complete for");
}

int rolling_restart(const ClientOptions& options) {
    ControlClient client(options.common.socket());
    const auto status = client.request_all_pages("watch", options.names, kRequestTimeout);
    std::vector<std::string> names;
    for (const auto& instance : status["instances"]) {
        names.push_back(instance["name"]);
    }
    for (const auto& name : names) {
        // One at a time: the next is touched only once this one is ready again.
        client.request(control_request_json("restart", {name}), kRequestTimeout);
        Progress progress(options.common.json, {name});
        const auto failed =
            follow_until(client, {name}, Goal::Ready, {{name, ProcessState::Running}}, true,
                         options.timeout_s, progress);
        if (!failed.empty()) {
            return report(failed, "rolling restart stopped at");
        }
    }
    if (!options.common.json) {
        std::cout << "rolling restart: " << names.size()
                  << " instance(s) restarted, one at a time\n";
    }
    return kExitOk;
}

void add_wait_options(po::options_description& description, ClientOptions& options) {
    description.add_options()("wait", po::bool_switch(&options.wait),
                              "wait until done, showing progress")(
        "timeout", po::value(&options.timeout_s)->value_name("S"),
        "give up waiting after S seconds (600)");
}

/// start and stop: NAME... [--wait] [--timeout S].
int simple_change(const std::string& command, const Args& args) {
    ClientOptions options;
    if (!parse_client_options(command, args, options,
                              "carbon-launcher " + command + " NAME... [--wait] [--timeout S]",
                              [&](po::options_description& d) { add_wait_options(d, options); })) {
        return kExitOk;
    }
    return change(command, options);
}

}  // namespace

int cmd_status(const Args& args) {
    ClientOptions options;
    if (!parse_client_options("status", args, options,
                              "carbon-launcher status [NAME...] [--json] [--socket PATH]",
                              [](po::options_description&) {})) {
        return kExitOk;
    }
    ControlClient client(options.common.socket());
    // However many pages the launcher answers in, the user sees one document.
    const auto result = client.request_all_pages("status", options.names, kRequestTimeout);
    if (options.common.json) {
        std::cout << result.dump(2) << "\n";
    } else {
        print_status_table(result);
    }
    return kExitOk;
}

int cmd_start(const Args& args) {
    return simple_change("start", args);
}

int cmd_stop(const Args& args) {
    return simple_change("stop", args);
}

int cmd_restart(const Args& args) {
    ClientOptions options;
    if (!parse_client_options(
            "restart", args, options,
            "carbon-launcher restart NAME... [--wait] | restart --rolling [NAME...]",
            [&](po::options_description& d) {
                add_wait_options(d, options);
                d.add_options()("rolling", po::bool_switch(&options.rolling),
                                "one at a time, each ready again before the next (default: all)");
            })) {
        return kExitOk;
    }
    return options.rolling ? rolling_restart(options) : change("restart", options);
}

int cmd_reload(const Args& args) {
    ClientOptions options;
    if (!parse_client_options("reload", args, options, "carbon-launcher reload",
                              [](po::options_description&) {})) {
        return kExitOk;
    }
    ControlClient client(options.common.socket());
    ReloadResult reload;
    try {
        reload = reload_result_from_json(
            client.request(control_request_json("reload", {}), kRequestTimeout));
    } catch (const ProtocolError& e) {
        throw ControlClientError(kExitSoftware, e.what());
    }
    std::cout << "reload: " << reload.message << describe_changes(reload) << "\n";
    return reload.ok ? kExitOk : kExitFailure;
}

// The launcher writes each dump to STATE/dumps/NAME-TIME.txt as the JVM prints it.
int cmd_dump(const Args& args) {
    ClientOptions options;
    if (!parse_client_options("dump", args, options, "carbon-launcher dump NAME...",
                              [](po::options_description&) {})) {
        return kExitOk;
    }
    if (options.names.empty()) {
        throw UsageError("dump: name at least one instance");
    }
    ControlClient client(options.common.socket());
    nlohmann::json result;
    try {
        result = client.request(control_request_json("dump", options.names), kRequestTimeout);
    } catch (const ProtocolError& e) {
        throw ControlClientError(kExitFailure, e.what());
    }
    if (options.common.json) {
        std::cout << result.dump(2) << "\n";
    } else {
        for (const auto& [name, file] : result["dumps"].items()) {
            std::cout << name << ": thread dump -> " << file.get<std::string>() << "\n";
        }
        for (const auto& name : result["failed"]) {
            std::cout << name.get<std::string>()
                      << ": no thread dump (see the launcher's log for why)\n";
        }
    }
    return result["failed"].empty() ? kExitOk : kExitFailure;
}

int cmd_logs(const Args& args) {
    ClientOptions options;
    if (!parse_client_options("logs", args, options, "carbon-launcher logs NAME [-f] [-n N]",
                              [&](po::options_description& d) {
                                  d.add_options()("follow,f", po::bool_switch(&options.follow),
                                                  "keep printing new output")(
                                      "lines,n", po::value(&options.lines)->value_name("N"),
                                      "last N lines (50)");
                              })) {
        return kExitOk;
    }
    if (options.names.size() != 1) {
        throw UsageError("logs: name exactly one instance");
    }
    ControlClient client(options.common.socket());
    const auto result =
        client.request(control_request_json("logs", options.names, options.lines, options.follow),
                       kRequestTimeout);
    // The exact bytes the instance wrote, whatever their encoding (see encode_output_data).
    std::cout << decode_output_data(result) << std::flush;
    while (options.follow) {
        const auto message = client.receive(std::chrono::hours(24));
        if (message && message->value("event", "") == "log") {
            std::cout << decode_output_data(*message) << std::flush;
        }
    }
    return kExitOk;
}

namespace {

/// Adds to each name that timed out what holds it back now, when something does ("apim-2
/// (Stopped, waiting for apim-1 (Fatal))"); names that failed already say how.
void explain_waits(ControlClient& client, std::vector<std::string>& failed) {
    std::vector<std::string> timed_out;
    std::copy_if(failed.begin(), failed.end(), std::back_inserter(timed_out),
                 [](const std::string& entry) { return entry.find(' ') == std::string::npos; });
    // A few names per request: a request line has a size limit (thousands of instances).
    constexpr std::size_t kNamesPerRequest = 100;
    for (std::size_t first = 0; first < timed_out.size(); first += kNamesPerRequest) {
        const std::vector<std::string> some(
            timed_out.begin() + static_cast<std::ptrdiff_t>(first),
            timed_out.begin() +
                static_cast<std::ptrdiff_t>(std::min(first + kNamesPerRequest, timed_out.size())));
        nlohmann::json status;
        try {
            status = client.request_all_pages("status", some, kRequestTimeout);
        } catch (const std::exception&) {
            return;  // an explanation only (a reload may have removed one): the names stand
        }
        for (const auto& instance : status["instances"]) {
            const std::string waiting = instance.value("waiting_for", "");
            if (waiting.empty()) {
                continue;
            }
            const std::string name = instance["name"];
            std::replace(
                failed.begin(), failed.end(), name,
                name + " (" + to_string(state_in(instance)) + ", waiting for " + waiting + ")");
        }
    }
}

}  // namespace

int cmd_wait_ready(const Args& args) {
    ClientOptions options;
    if (!parse_client_options(
            "wait-ready", args, options, "carbon-launcher wait-ready [NAME...] [--timeout S]",
            [&](po::options_description& d) {
                d.add_options()("timeout", po::value(&options.timeout_s)->value_name("S"),
                                "give up after S seconds (600)");
            })) {
        return kExitOk;
    }
    ControlClient client(options.common.socket());
    const auto before =
        states_of(client.request_all_pages("watch", options.names, kRequestTimeout));
    std::vector<std::string> names;
    for (const auto& [name, state] : before) {
        names.push_back(name);
    }
    Progress progress(options.common.json, names);
    auto failed =
        follow_until(client, names, Goal::Ready, before, false, options.timeout_s, progress);
    explain_waits(client, failed);
    return report(failed, "not ready");
}

}  // namespace carbon
