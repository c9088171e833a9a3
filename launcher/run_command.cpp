#include "run_command.hpp"

#include <fcntl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <iostream>

#include "cli_options.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "supervisor.hpp"
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

/// One launcher per state dir: a second one would start every instance twice.
int lock_state_dir(const std::filesystem::path& state_dir) {
    std::filesystem::create_directories(state_dir);
    const auto lock_file = state_dir / "launcher.lock";
    const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(),
                                "cannot open " + lock_file.string());
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        std::string error;
        const std::string holder = read_text_file(lock_file, error).value_or("?");
        ::close(fd);
        return -1 - std::atoi(holder.c_str());
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        spdlog::warn("cannot write the pid into {}", lock_file.string());
    }
    return fd;  // held open until the process exits
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
    const int lock = lock_state_dir(common.state());
    if (lock < 0) {
        spdlog::error(
            "another carbon-launcher (pid {}) already runs with state dir {}; stop it first",
            -1 - lock, common.state().string());
        return kExitUnavailable;
    }
    boost::asio::io_context io;
    Supervisor supervisor(io, common);
    return supervisor.run();
}

}  // namespace carbon
