// carbon-sim: the "JVM" of a simulated WSO2 runtime, for the demo and the end-to-end tests.
//
//   carbon-sim jvm --runtime RUNTIME --home HOME [-Dk=v ...]
//
// It behaves, in what a supervisor can observe, like the JVM that WSO2's start scripts run; each
// behaviour is a fact with its source in tools/SIMULATION.md ([F1]..[F18] below):
//   - API-M (Carbon 4): the offset is -DportOffset, else [server] offset in
//     repository/conf/deployment.toml [F6]; the pid file is HOME/wso2carbon.pid, NUL-padded [F10].
//   - SI and Tooling (Carbon 5): the config is CARBON_HOME/conf/<wso2.runtime>/deployment.yaml,
//     wso2.runtime and wso2.runtime.path being the system properties carbon.sh passes [F7]; a
//     missing file is a WARN line and Carbon's defaults (offset 0) [F7]; runtime.pid is written
//     into wso2.runtime.path [F10].
//   - It writes its pid file before it opens its ports [F10], binds every default port at
//     base + offset (fixed ports unshifted), prints the startup line [F13], and stops gracefully
//     on SIGTERM (exit 143, as a JVM does after its shutdown hook).
//   - A port it cannot bind ends it with an error line on stdout and exit code 1, before any
//     of its ports accepts a connection [F11].
//   - API-M answers its health endpoints [F16] (sim_health.cpp): GET /services/Version on the HTTP
//     servlet port, and over TLS on the HTTPS servlet port also the gateway's startup health check;
//     every other port (and every SI/Tooling port) only accepts TCP connections.
//   - SIGQUIT (CTRL_BREAK on Windows) prints a HotSpot-style thread dump on stdout and changes
//     nothing else [F17] (sim_thread_dump.cpp).
//   - A split API-M pack (its role from the start script that runs it) connects, once started,
//     to every peer URL of its deployment.toml, retrying for a bounded time; one log line per
//     URL, and an unreachable peer does not stop it [F18] (sim_peers.cpp).
// HOME/sim.json changes its behaviour: start_delay_ms, stop_delay_ms, crash_after_ms
// (+ crash_exit_code), exit_121_after_ms (once per marker file), ignore_sigterm, grandchild,
// bind_host, bind_delay_ms (its ports are opened that late, as a real Carbon opens its transports
// late in its startup: the window in which another process can take one), health_delay_ms,
// health_status, hang_after_ms, peer_give_up_ms (tools/SIMULATION.md, "sim.json knobs").
#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config_inspect.hpp"
#include "os/paths.hpp"
#include "port_table.hpp"
#include "profile.hpp"
#include "sim_health.hpp"
#include "sim_peers.hpp"
#include "sim_thread_dump.hpp"
#include "supervision/spawn.hpp"
#include "text_file.hpp"
#include "yaml_ports.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

struct Behaviour {
    int start_delay_ms = 300;
    int stop_delay_ms = 200;
    int bind_delay_ms = 0;
    std::optional<int> crash_after_ms;
    int crash_exit_code = 1;
    std::optional<int> exit_121_after_ms;
    bool ignore_sigterm = false;
    bool grandchild = false;
    std::string bind_host = "127.0.0.1";
    int health_delay_ms = 0;           // after the ports open, health endpoints answer non-200
    std::optional<int> health_status;  // every health endpoint answers this instead
    std::optional<int> hang_after_ms;  // after the ready line: accepts, never answers
    int peer_give_up_ms = 10000;       // split packs: how long each peer URL is retried
};

std::optional<int> optional_int(const nlohmann::json& json, const char* key) {
    return json.contains(key) ? std::optional<int>(json[key].get<int>()) : std::nullopt;
}

Behaviour load_behaviour(const fs::path& home) {
    Behaviour b;
    std::string error;
    const auto text = carbon::read_text_file(home / "sim.json", error);
    if (!text) {
        return b;
    }
    const auto json = nlohmann::json::parse(*text);
    b.start_delay_ms = json.value("start_delay_ms", b.start_delay_ms);
    b.stop_delay_ms = json.value("stop_delay_ms", b.stop_delay_ms);
    b.bind_delay_ms = json.value("bind_delay_ms", b.bind_delay_ms);
    b.crash_after_ms = optional_int(json, "crash_after_ms");
    b.crash_exit_code = json.value("crash_exit_code", b.crash_exit_code);
    b.exit_121_after_ms = optional_int(json, "exit_121_after_ms");
    b.ignore_sigterm = json.value("ignore_sigterm", b.ignore_sigterm);
    b.grandchild = json.value("grandchild", b.grandchild);
    b.bind_host = json.value("bind_host", b.bind_host);
    b.health_delay_ms = json.value("health_delay_ms", b.health_delay_ms);
    b.health_status = optional_int(json, "health_status");
    b.hang_after_ms = optional_int(json, "hang_after_ms");
    b.peer_give_up_ms = json.value("peer_give_up_ms", b.peer_give_up_ms);
    return b;
}

void say(const std::string& line) {
    std::cout << line << std::endl;  // flush: stdout is a pipe to the launcher
}

/// -Dk=v arguments as Java system properties; a later one wins, as System.setProperty does for
/// the arguments Carbon's Main processes after the script's own -D options [F4].
std::map<std::string, std::string> system_properties(const std::vector<std::string>& args) {
    std::map<std::string, std::string> properties;
    for (const auto& arg : args) {
        if (arg.rfind("-D", 0) != 0) {
            continue;
        }
        const auto equals = arg.find('=');
        properties[arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2)] =
            equals == std::string::npos ? "true" : arg.substr(equals + 1);
    }
    return properties;
}

std::optional<std::string> property(const std::map<std::string, std::string>& properties,
                                    const std::string& key) {
    const auto it = properties.find(key);
    return it == properties.end() ? std::nullopt : std::optional<std::string>(it->second);
}

/// Carbon 5 (SI, Tooling) reads YAML from conf/<runtime name>/; Carbon 4 (API-M) reads TOML.
bool is_carbon5(const carbon::RuntimeTable& table) {
    return table.family == carbon::RuntimeFamily::Carbon5;
}

/// Where the JVM takes its configuration, its pid file and its offset from.
struct Resolved {
    fs::path carbon_home;
    fs::path config;  // the file it reads (may not exist)
    bool config_found = false;
    std::string config_text;
    fs::path pid_file;
    int offset = 0;
};

Resolved resolve(const carbon::RuntimeTable& table, const fs::path& home,
                 const std::map<std::string, std::string>& properties) {
    Resolved r;
    r.carbon_home = property(properties, "carbon.home").value_or(home.string());
    std::string error;
    if (!is_carbon5(table)) {
        // [F6] Carbon 4: -DportOffset wins over [server] offset in deployment.toml.
        r.config = r.carbon_home / table.config_file;
        if (const auto text = carbon::read_text_file(r.config, error)) {
            r.config_found = true;
            r.config_text = *text;
        }
        r.pid_file = r.carbon_home / table.pid_file;  // [F10] HOME/wso2carbon.pid
        if (const auto arg = property(properties, "portOffset")) {
            r.offset = std::stoi(*arg);
        } else if (r.config_found) {
            r.offset = static_cast<int>(
                carbon::read_toml_server_offset(r.config_text, r.config).value_or(0));
        }
        return r;
    }
    // [F7] Carbon 5: Utils.getRuntimeConfigPath() is CARBON_HOME/conf/<wso2.runtime>, and the
    // pid file goes into wso2.runtime.path. carbon.sh passes both; without them Carbon fails.
    const auto runtime_name = property(properties, "wso2.runtime");
    const auto runtime_path = property(properties, "wso2.runtime.path");
    if (!runtime_name || !runtime_path) {
        throw std::runtime_error(
            "system properties wso2.runtime and wso2.runtime.path must be set (carbon.sh sets "
            "them from RUNTIME_HOME)");
    }
    r.config = r.carbon_home / "conf" / *runtime_name / fs::path(table.config_file).filename();
    if (const auto text = carbon::read_text_file(r.config, error)) {
        r.config_found = true;
        r.config_text = *text;
        r.offset = std::stoi(
            carbon::read_yaml_scalar(r.config_text, "wso2.carbon/ports/offset", r.config.string())
                .value_or("0"));
    }
    r.pid_file = fs::path(*runtime_path) / fs::path(table.pid_file).filename();
    return r;
}

std::string server_name(const carbon::RuntimeTable& table, const Resolved& resolved) {
    if (resolved.config_found && is_carbon5(table)) {
        if (auto name = carbon::read_yaml_scalar(resolved.config_text, "wso2.carbon/name",
                                                 resolved.config.string())) {
            return *name;
        }
    }
    return table.runtime == "api-manager" ? "WSO2 Carbon" : table.display_name;
}

/// Binds one port (not yet listening); an empty pointer when it cannot.
std::unique_ptr<asio::ip::tcp::acceptor> bind_port(asio::io_context& io, const std::string& host,
                                                   int number) {
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io);
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host),
                                           static_cast<unsigned short>(number));
    boost::system::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
#ifndef _WIN32
    // As the JVM does on Linux. On Windows SO_REUSEADDR would let the bind steal a port.
    acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    ::fcntl(acceptor->native_handle(), F_SETFD, FD_CLOEXEC);  // not into the grandchild
#endif
    if (!ec) {
        acceptor->bind(endpoint, ec);
    }
    return ec ? nullptr : std::move(acceptor);
}

/// One open port of the simulated JVM.
struct Listener {
    carbon::InstancePort port;
    int number = 0;
    std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
};

/// Opens every default port: all are bound before any listens, so that a port it cannot bind
/// ends the JVM [F11] before anything accepted a connection (a readiness probe must not see a
/// JVM that is about to exit as ready). Exits 1 with the error line on stdout.
std::vector<Listener> open_ports(asio::io_context& io, const std::string& host,
                                 const std::vector<carbon::InstancePort>& ports, int offset) {
    std::vector<Listener> listeners;
    for (const auto& port : ports) {
        if (!port.default_open) {
            continue;
        }
        const int number = port.effective(offset);
        auto acceptor = bind_port(io, host, number);
        if (!acceptor) {
            listeners.clear();  // closed now, not after the exit handlers
            say("[carbon-sim] ERROR - Failed to bind port " + std::to_string(number) + " (" +
                port.purpose + ") on " + host + ": java.net.BindException: Address already in use");
            std::exit(1);
        }
        listeners.push_back({port, number, std::move(acceptor)});
    }
    for (auto& listener : listeners) {
        boost::system::error_code ec;
        listener.acceptor->listen(64, ec);
    }
    return listeners;
}

void write_pid_file(const carbon::RuntimeTable& table, const fs::path& file) {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    std::string content = std::to_string(carbon::current_pid());
    if (table.runtime == "api-manager") {
        content.resize(20, '\0');  // API-M pads its pid file with NUL bytes [F10]
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
}

/// What /services/Version reports: the first line of HOME/bin/version.txt, where a pack names
/// itself (e.g. "WSO2 API Manager-4.4.0"); a simulated home has none by default.
std::string pack_version(const fs::path& carbon_home) {
    std::ifstream file(carbon_home / "bin" / "version.txt");
    std::string line;
    if (std::getline(file, line)) {
        line.erase(line.find_last_not_of(" \r\n\t") + 1);
    }
    return line.empty() ? "WSO2 API Manager" : line;
}

/// The home's self-signed key and certificate (PEM files that make-sim-home.sh generates where a
/// pack keeps its wso2carbon.jks); without them the HTTPS servlet port accepts TCP only [F16].
std::unique_ptr<carbon_sim::TlsContext> load_certificate(const fs::path& carbon_home) {
#ifdef CARBON_SIM_TLS
    const fs::path folder = carbon_home / "repository" / "resources" / "security";
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    boost::system::error_code ec;
    context->use_certificate_chain_file((folder / "carbon-sim.crt").string(), ec);
    if (!ec) {
        context->use_private_key_file((folder / "carbon-sim.key").string(), asio::ssl::context::pem,
                                      ec);
    }
    if (!ec) {
        return context;
    }
    say("[carbon-sim] WARN - no usable carbon-sim.crt/.key in " + folder.string() + " (" +
        ec.message() + "): the HTTPS servlet port accepts TCP only");
#else
    (void)carbon_home;
    say("[carbon-sim] WARN - built without TLS: the HTTPS servlet port accepts TCP only");
#endif
    return nullptr;
}

/// API-M's servlet ports answer HTTP(S) [F16]; every other port, and every port of SI and
/// Tooling (whose charts probe TCP only), just accepts connections.
carbon_sim::PortRole role_of(const carbon::RuntimeTable& table, const carbon::InstancePort& port,
                             bool tls_loaded) {
    if (table.runtime != "api-manager") {
        return carbon_sim::PortRole::TcpOnly;
    }
    if (port.key == "http-servlet") {
        return carbon_sim::PortRole::HttpServlet;
    }
    if (port.key == "https-servlet" && tls_loaded) {
        return carbon_sim::PortRole::HttpsServlet;
    }
    return carbon_sim::PortRole::TcpOnly;
}

#ifdef _WIN32
constexpr int kDumpSignal = SIGBREAK;  // CTRL_BREAK_EVENT, through the C runtime [F17]
#else
constexpr int kDumpSignal = SIGQUIT;
#endif

/// [F17] Each SIGQUIT (CTRL_BREAK) prints a thread dump on stdout; the JVM carries on.
void print_dumps_on_signal(asio::signal_set& signals,
                           const std::function<carbon_sim::DumpSubject()>& subject) {
    signals.async_wait([&signals, &subject](const boost::system::error_code& ec, int) {
        if (ec) {
            return;
        }
        std::cout << carbon_sim::thread_dump(subject(), carbon_sim::dump_local_time())
                  << std::flush;
        print_dumps_on_signal(signals, subject);
    });
}

/// [F18] The peer URLs of a split API-M pack, read from its deployment.toml at startup; none
/// for any other pack. A file that is not TOML is an error line, not a JVM that fails to start.
std::vector<carbon_sim::PeerUrl> split_peer_urls(const carbon::RuntimeTable& table,
                                                 const Resolved& resolved) {
    if (table.split.empty()) {
        return {};
    }
    const auto role = carbon_sim::role_from_start_script(table);
    if (!role || *role == carbon::SplitRole::AllInOne) {
        return {};
    }
    say("carbon-sim: split pack role " + carbon::to_string(*role) + " (from its start script)");
    try {
        return carbon_sim::peer_urls(table, *role, resolved.config_text, resolved.config,
                                     resolved.offset);
    } catch (const std::exception& e) {
        say(std::string("[carbon-sim] ERROR - peer settings not read: ") + e.what());
        return {};
    }
}

carbon_sim::PeerConnections::Timing peer_timing(const Behaviour& behaviour) {
    carbon_sim::PeerConnections::Timing timing;
    timing.give_up_after = std::chrono::milliseconds(behaviour.peer_give_up_ms);
    return timing;
}

void announce(const std::string& runtime, const carbon::RuntimeTable& table,
              const Resolved& resolved, const std::map<std::string, std::string>& properties,
              const std::vector<std::string>& args) {
    say("carbon-sim: " + runtime + " pid " + std::to_string(carbon::current_pid()) + " offset " +
        std::to_string(resolved.offset) + " home " + resolved.carbon_home.string());
    if (is_carbon5(table)) {
        const std::string name = property(properties, "wso2.runtime").value_or("");
        if (resolved.config_found) {
            say("[carbon-sim] INFO - configuration " + resolved.config.string() + " (runtime '" +
                name + "'): offset " + std::to_string(resolved.offset));
        } else {
            say("[carbon-sim] WARN - no " + resolved.config.string() + " (runtime '" + name +
                "'); using Carbon's defaults: offset 0");
        }
    }
    for (const auto& arg : args) {
        if (arg.rfind("-D", 0) == 0) {
            say("carbon-sim: system property " + arg.substr(2));
        }
    }
}

int run_jvm(const std::string& runtime, const fs::path& home,
            const std::vector<std::string>& args) {
    const auto catalog = carbon::RuntimeCatalog::load(carbon::find_runtimes_dir(""));
    const carbon::RuntimeTable* table = catalog.find(runtime);
    if (table == nullptr) {
        std::cerr << "carbon-sim: unknown runtime " << runtime << "\n";
        return 2;
    }
    const auto properties = system_properties(args);
    const Resolved resolved = resolve(*table, home, properties);
    const Behaviour behaviour = load_behaviour(resolved.carbon_home);
    const int offset = resolved.offset;
    auto ports = carbon::table_ports(*table);
    if (resolved.config_found && is_carbon5(*table)) {
        for (const auto& [key, base] :
             carbon::read_yaml_ports(resolved.config_text, *table, resolved.config.string())) {
            for (auto& port : ports) {
                port.base = port.key == key ? base : port.base;
            }
        }
    }
    announce(runtime, *table, resolved, properties, args);
    const auto started = std::chrono::steady_clock::now();
    write_pid_file(*table, resolved.pid_file);  // before the server starts [F10]
    carbon_sim::HealthEndpoints health(pack_version(resolved.carbon_home),
                                       behaviour.health_delay_ms, behaviour.health_status);
    const auto tls =
        table->runtime == "api-manager" ? load_certificate(resolved.carbon_home) : nullptr;
    std::vector<int> http_ports;  // named in the thread dump
    const std::function<carbon_sim::DumpSubject()> dump_subject = [&] {
        return carbon_sim::DumpSubject{
            carbon::current_pid(),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
            http_ports, health.hung()};
    };
    asio::io_context io;
    std::vector<Listener> listeners;
    std::optional<carbon_sim::PeerConnections> peers;
    if (auto urls = split_peer_urls(*table, resolved); !urls.empty()) {
        peers.emplace(io, std::move(urls), peer_timing(behaviour), say);
    }
#ifndef _WIN32
    if (behaviour.grandchild && ::fork() == 0) {
        // A helper process of the JVM in the same group. (API-M 4.3+'s diagnostics tool is a
        // child of the script instead: see make-sim-home.sh [F12].)
        ::execl("/bin/sleep", "sleep", "3600", static_cast<char*>(nullptr));
        std::_Exit(127);
    }
#endif
    asio::signal_set signals(io, SIGTERM, SIGINT);
    asio::signal_set dump_signals(io, kDumpSignal);
    print_dumps_on_signal(dump_signals, dump_subject);
    asio::steady_timer bind_timer(io), start_timer(io), event_timer(io), stop_timer(io),
        hang_timer(io);
    int exit_code = 0;
    std::function<void()> wait_for_signal = [&] {
        signals.async_wait([&](const boost::system::error_code& ec, int signal) {
            if (ec) {
                return;
            }
            if (behaviour.ignore_sigterm && signal == SIGTERM) {
                say("carbon-sim: ignoring SIGTERM");
                wait_for_signal();
                return;
            }
            // A hung JVM stops too: its shutdown hook runs in a thread of its own [F17].
            say("carbon-sim: shutting down (signal " + std::to_string(signal) + ")");
            bind_timer.cancel();
            start_timer.cancel();
            event_timer.cancel();
            hang_timer.cancel();
            if (peers) {
                peers->stop();
            }
            stop_timer.expires_after(std::chrono::milliseconds(behaviour.stop_delay_ms));
            stop_timer.async_wait([&](const boost::system::error_code& wait_ec) {
                if (!wait_ec) {
                    exit_code = 128 + signal;  // what a JVM reports after its shutdown hook
                    io.stop();
                }
            });
        });
    };
    wait_for_signal();
    const auto on_started = [&](const boost::system::error_code& ec) {
        if (ec) {
            return;
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        char line[256];
        std::snprintf(line, sizeof line, "[carbon-sim] INFO - %s started in %.3f sec",
                      server_name(*table, resolved).c_str(), seconds);
        say(line);
        if (peers) {
            // After startup, as Carbon's JMS listeners subscribe once the server has started.
            peers->start();
        }
        if (behaviour.hang_after_ms) {
            hang_timer.expires_after(std::chrono::milliseconds(*behaviour.hang_after_ms));
            hang_timer.async_wait([&](const boost::system::error_code& e) {
                if (!e) {
                    health.hang();
                    say("carbon-sim: hanging (connections accepted, never answered)");
                }
            });
        }
        const fs::path marker = resolved.carbon_home / "sim-121-done";
        if (behaviour.exit_121_after_ms && !fs::exists(marker)) {
            event_timer.expires_after(std::chrono::milliseconds(*behaviour.exit_121_after_ms));
            event_timer.async_wait([&, marker](const boost::system::error_code& e) {
                if (!e) {
                    std::ofstream{marker};
                    say("carbon-sim: restart requested (exit 121)");
                    exit_code = 121;
                    io.stop();
                }
            });
        } else if (behaviour.crash_after_ms) {
            event_timer.expires_after(std::chrono::milliseconds(*behaviour.crash_after_ms));
            event_timer.async_wait([&](const boost::system::error_code& e) {
                if (!e) {
                    say("carbon-sim: crashing with exit code " +
                        std::to_string(behaviour.crash_exit_code));
                    exit_code = behaviour.crash_exit_code;
                    io.stop();
                }
            });
        }
    };
    bind_timer.expires_after(std::chrono::milliseconds(behaviour.bind_delay_ms));
    bind_timer.async_wait([&](const boost::system::error_code& ec) {
        if (ec) {
            return;
        }
        listeners = open_ports(io, behaviour.bind_host, ports, offset);
        health.ports_opened(std::chrono::steady_clock::now());
        for (auto& listener : listeners) {
            const auto role = role_of(*table, listener.port, tls != nullptr);
            carbon_sim::serve(*listener.acceptor, role, health, tls.get());
            if (role != carbon_sim::PortRole::TcpOnly) {
                http_ports.push_back(listener.number);
            }
        }
        start_timer.expires_after(std::chrono::milliseconds(
            std::max(0, behaviour.start_delay_ms - behaviour.bind_delay_ms)));
        start_timer.async_wait(on_started);
    });
    io.run();
    return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() < 5 || args[0] != "jvm" || args[1] != "--runtime" || args[3] != "--home") {
        std::cerr << "usage: carbon-sim jvm --runtime RUNTIME --home HOME [-Dk=v ...]\n";
        return 64;
    }
#ifndef _WIN32
    // [F15] HotSpot catches SIGPIPE and ignores it in its handler: a JVM whose stdout reader is
    // gone (a SIGKILLed launcher) keeps running, its prints failing quietly. Caught, not SIG_IGN,
    // as the JVM does: /proc shows it caught, never ignored (what test_hardening checks of the
    // launcher's children).
    struct sigaction on_sigpipe {};
    on_sigpipe.sa_handler = [](int) {};
    ::sigaction(SIGPIPE, &on_sigpipe, nullptr);
#endif
    try {
        return run_jvm(args[2], args[4], std::vector<std::string>(args.begin() + 5, args.end()));
    } catch (const std::exception& e) {
        say(std::string("[carbon-sim] ERROR - ") + e.what());
        return 1;
    }
}
