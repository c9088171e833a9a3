#include "cli/run_command.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/cli_options.hpp"
#include "cli/usage_error.hpp"
#include "exit_codes.hpp"
#include "os/state_lock.hpp"
#include "planning/preflight.hpp"
#include "supervision/supervisor.hpp"
#include "text_file.hpp"

namespace po = boost::program_options;

namespace carbon {
namespace {

void configure_logging() {
    auto logger = spdlog::stderr_logger_mt("carbon-launcher");
    // Under systemd, journald stamps every line itself.
    const char* journal = std::getenv("JOURNAL_STREAM");
    logger->set_pattern(journal != nullptr && *journal != '\0' ? "%l %v"
                                                               : "%Y-%m-%d %H:%M:%S.%e %l %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
    CommonOptions common;
    po::options_description options("run options");
    add_common_options(options, common);
    add_socket_options(options, common, true);
    options.add_options()("ready-when", po::value(&common.ready_when)->value_name("POLICY"),
                          "when to report READY=1 to systemd: all-ready (default: every autostart "
                          "instance Running, or given up) or all-started (every one spawned)");
    options.add_options()("help,h", "this help");
    if (wants_help(args)) {
        std::cout
            << "usage: carbon-launcher run [--profiles DIR] [--state-dir DIR]\n\n"
               "The foreground daemon: stops what a crashed earlier launcher left running,\n"
               "plans the offsets, writes them into the SI/Tooling configs, then starts and\n"
               "supervises every instance (readiness, restart with backoff, logs in\n"
               "STATE/logs). SIGTERM or Ctrl-C stops them all gracefully (a second Ctrl-C\n"
               "kills); SIGHUP reloads the profiles.\n\n"
            << options
            << "\nexamples:\n  carbon-launcher run --profiles /etc/carbon-launcher/profiles\n";
        return kExitOk;
    }
    parse_command_line("run", args, options);
    if (common.ready_when != "all-ready" && common.ready_when != "all-started") {
        throw UsageError("run: --ready-when takes all-ready or all-started, not \"" +
                         common.ready_when + "\"");
    }
    configure_logging();
    preflight_state_dir(common.state());  // a state dir that cannot be made: say what to do
    if (const auto holder = lock_state_dir(common.state())) {
        spdlog::error(
            "another carbon-launcher (pid {}) already runs with state dir {}; stop it first",
            *holder, common.state().string());
        return kExitUnavailable;
    }
    boost::asio::io_context io;
    Supervisor supervisor(io, common);
    return supervisor.run();
}

}  // namespace carbon
