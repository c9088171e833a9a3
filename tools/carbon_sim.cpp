// carbon-sim: the "JVM" of a simulated WSO2 runtime, for the demo and the end-to-end tests.
//
//   carbon-sim jvm --runtime RUNTIME --home HOME [-Dk=v ...]
//
// Reads its offset the way the real runtime does (API-M: -DportOffset over [server] offset in
// deployment.toml; SI and Tooling: deployment.yaml), binds every default port of its table at
// base + offset (fixed ports unshifted), writes the runtime's pid file, prints the real startup
// line, and stops gracefully on SIGTERM (exit 143, as a JVM does). HOME/sim.json changes its
// behaviour: start_delay_ms, stop_delay_ms, crash_after_ms (+ crash_exit_code),
// exit_121_after_ms (once per marker file), ignore_sigterm, grandchild, bind_host.
#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config_inspect.hpp"
#include "paths.hpp"
#include "port_table.hpp"
#include "profile.hpp"
#include "spawn.hpp"
#include "text_file.hpp"
#include "yaml_ports.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

struct Behaviour {
    int start_delay_ms = 300;
    int stop_delay_ms = 200;
    std::optional<int> crash_after_ms;
    int crash_exit_code = 1;
    std::optional<int> exit_121_after_ms;
    bool ignore_sigterm = false;
    bool grandchild = false;
    std::string bind_host = "127.0.0.1";
};

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
    if (json.contains("crash_after_ms")) {
        b.crash_after_ms = json["crash_after_ms"].get<int>();
    }
    b.crash_exit_code = json.value("crash_exit_code", b.crash_exit_code);
    if (json.contains("exit_121_after_ms")) {
        b.exit_121_after_ms = json["exit_121_after_ms"].get<int>();
    }
    b.ignore_sigterm = json.value("ignore_sigterm", b.ignore_sigterm);
    b.grandchild = json.value("grandchild", b.grandchild);
    b.bind_host = json.value("bind_host", b.bind_host);
    return b;
}

void say(const std::string& line) {
    std::cout << line << std::endl;  // flush: stdout is a pipe to the launcher
}

int offset_of(const carbon::RuntimeTable& table, const fs::path& home,
              const std::vector<std::string>& args) {
    if (table.supports_method("argument")) {
        for (const auto& arg : args) {
            if (arg.rfind("-DportOffset=", 0) == 0) {
                return std::stoi(arg.substr(13));  // the argument wins over the file
            }
        }
        std::string error;
        if (const auto text = carbon::read_text_file(home / table.config_file, error)) {
            return static_cast<int>(
                carbon::read_toml_server_offset(*text, home / table.config_file).value_or(0));
        }
        return 0;
    }
    std::string error;
    const auto text = carbon::read_text_file(home / table.config_file, error);
    if (!text) {
        throw std::runtime_error(table.config_file + ": " + error);
    }
    return std::stoi(carbon::read_yaml_scalar(*text, "wso2.carbon/ports/offset", table.config_file)
                         .value_or("0"));
}

std::string server_name(const carbon::RuntimeTable& table, const fs::path& home) {
    std::string error;
    if (table.config_file.ends_with(".yaml")) {
        if (const auto text = carbon::read_text_file(home / table.config_file, error)) {
            if (auto name =
                    carbon::read_yaml_scalar(*text, "wso2.carbon/name", table.config_file)) {
                return *name;
            }
        }
    }
    return table.display_name;
}

/// Binds and listens, or exits 1 the way a JVM that cannot bind does.
std::unique_ptr<asio::ip::tcp::acceptor> listen_on(asio::io_context& io, const std::string& host,
                                                   int port) {
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io);
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host),
                                           static_cast<unsigned short>(port));
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
    if (!ec) {
        acceptor->listen(64, ec);
    }
    if (ec) {
        say("java.net.BindException: Address already in use: " + host + ":" + std::to_string(port));
        std::exit(1);
    }
    return acceptor;
}

void write_pid_file(const carbon::RuntimeTable& table, const fs::path& home) {
    const fs::path file = home / table.pid_file;
    fs::create_directories(file.parent_path());
    std::string content = std::to_string(carbon::current_pid());
    if (table.runtime == "api-manager") {
        content.resize(20, '\0');  // API-M pads its pid file with NUL bytes
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
}

int run_jvm(const std::string& runtime, const fs::path& home,
            const std::vector<std::string>& args) {
    const auto catalog = carbon::RuntimeCatalog::load(carbon::find_runtimes_dir(""));
    const carbon::RuntimeTable* table = catalog.find(runtime);
    if (table == nullptr) {
        std::cerr << "carbon-sim: unknown runtime " << runtime << "\n";
        return 2;
    }
    const Behaviour behaviour = load_behaviour(home);
    const int offset = offset_of(*table, home, args);
    auto ports = carbon::table_ports(*table);
    if (table->config_file.ends_with(".yaml")) {
        std::string error;
        if (const auto text = carbon::read_text_file(home / table->config_file, error)) {
            for (const auto& [key, base] :
                 carbon::read_yaml_ports(*text, *table, table->config_file)) {
                for (auto& port : ports) {
                    port.base = port.key == key ? base : port.base;
                }
            }
        }
    }
    say("carbon-sim: " + runtime + " pid " + std::to_string(carbon::current_pid()) + " offset " +
        std::to_string(offset) + " home " + home.string());
    for (const auto& arg : args) {
        if (arg.rfind("-D", 0) == 0) {
            say("carbon-sim: system property " + arg.substr(2));
        }
    }
    const auto started = std::chrono::steady_clock::now();
    asio::io_context io;
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> listeners;
    for (const auto& port : ports) {
        if (port.default_open) {
            listeners.push_back(listen_on(io, behaviour.bind_host, port.effective(offset)));
        }
    }
    write_pid_file(*table, home);
#ifndef _WIN32
    if (behaviour.grandchild && ::fork() == 0) {
        // A helper process in the same group, like the diagnostics JVM of API-M 4.3+.
        ::execl("/bin/sleep", "sleep", "3600", static_cast<char*>(nullptr));
        std::_Exit(127);
    }
#endif
    asio::signal_set signals(io, SIGTERM, SIGINT);
    asio::steady_timer start_timer(io), event_timer(io), stop_timer(io);
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
            say("carbon-sim: shutting down (signal " + std::to_string(signal) + ")");
            start_timer.cancel();
            event_timer.cancel();
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
    start_timer.expires_after(std::chrono::milliseconds(behaviour.start_delay_ms));
    start_timer.async_wait([&](const boost::system::error_code& ec) {
        if (ec) {
            return;
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        char line[256];
        std::snprintf(
            line, sizeof line, "[carbon-sim] INFO - %s started in %.3f sec",
            table->runtime == "api-manager" ? "WSO2 Carbon" : server_name(*table, home).c_str(),
            seconds);
        say(line);
        const fs::path marker = home / "sim-121-done";
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
    try {
        return run_jvm(args[2], args[4], std::vector<std::string>(args.begin() + 5, args.end()));
    } catch (const std::exception& e) {
        std::cerr << "carbon-sim: " << e.what() << "\n";
        return 1;
    }
}
