#include "cli/commands.hpp"
#include "cli/error_report.hpp"
#include "cli/usage_error.hpp"

#include <iostream>
#include <system_error>

#include "cli/apply_command.hpp"
#include "cli/check_command.hpp"
#include "cli/cli_options.hpp"
#include "cli/control_commands.hpp"
#include "cli/export_command.hpp"
#include "cli/run_command.hpp"
#include "control/control_client.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "os/paths.hpp"
#include "plan_report.hpp"
#include "planning/planning.hpp"
#include "version.hpp"

#ifdef _WIN32
#include "os/windows_service.hpp"
#endif

namespace po = boost::program_options;

namespace carbon {
namespace {

using Args = std::vector<std::string>;

struct Command {
    const char* name;
    const char* summary;
    int (*run)(const Args& args);
};

int print_help(const std::string& usage, const po::options_description& options,
               const std::string& examples) {
    std::cout << "usage: " << usage << "\n\n" << options << "\n";
    if (!examples.empty()) {
        std::cout << "examples:\n" << examples;
    }
    return kExitOk;
}

int cmd_plan(const Args& args) {
    CommonOptions common;
    po::options_description options("plan options");
    add_common_options(options, common);
    options.add_options()("help,h", "this help");
    if (wants_help(args)) {
        return print_help(
            "carbon-launcher plan [--profiles DIR] [--state-dir DIR] [--json]\n\n"
            "Shows what `run` would do, changing nothing: the offset of every instance (explicit,\n"
            "sticky or newly chosen), every port it binds, the URLs to open, the exact command\n"
            "line and the config edits. Exit 0 for a clean plan, 69 for conflicts, 78 for bad\n"
            "profiles.",
            options,
            "  carbon-launcher plan --profiles /etc/carbon-launcher/profiles\n"
            "  carbon-launcher plan --json | jq '.instances[] | {name, offset}'\n");
    }
    parse_command_line("plan", args, options);
    const auto session = plan_from_options(common);
    const PlanReport report = review_plan(session->plan);
    if (common.json) {
        std::cout << plan_to_json(report).dump(2) << "\n";
    } else {
        std::cout << plan_to_text(report);
    }
    return session->plan.ok() ? kExitOk : kExitUnavailable;
}

nlohmann::json table_to_json(const RuntimeTable& table) {
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& port : table.ports) {
        ports.push_back({{"key", port.key},
                         {"base", port.base},
                         {"purpose", port.purpose},
                         {"follows_offset", port.follows_offset},
                         {"open_by_default", port.default_open},
                         {"config_key", port.config_key}});
    }
    nlohmann::json methods = nlohmann::json::array();
    for (const OffsetMethod method : table.offset_methods) {
        methods.push_back(to_string(method));
    }
    return {{"runtime", table.runtime},
            {"display_name", table.display_name},
            {"shipped_offset", table.shipped_offset},
            {"offset_methods", methods},
            {"scripts", table.linux_scripts},
            {"config_file", table.config_file},
            {"ports", ports}};
}

void print_table(const RuntimeTable& table) {
    std::cout << table.runtime << " (" << table.display_name << "), shipped offset "
              << table.shipped_offset << ", config " << table.config_file << "\n";
    for (const auto& port : table.ports) {
        std::cout << "  " << port.base << "  " << port.purpose;
        if (!port.follows_offset) {
            std::cout << "  [fixed: "
                      << (port.config_key.empty() ? "not moved by the offset" : port.config_key)
                      << "]";
        }
        if (!port.default_open) {
            std::cout << "  [off by default]";
        }
        std::cout << "\n";
    }
}

int cmd_ports(const Args& args) {
    CommonOptions common;
    std::string runtime;
    po::options_description options("ports options");
    options.add_options()("runtimes", po::value(&common.runtimes_dir)->value_name("DIR"),
                          "port tables")("json", po::bool_switch(&common.json),
                                         "machine-readable output")(
        "runtime", po::value(&runtime), "one runtime only")("help,h", "this help");
    po::positional_options_description positional;
    positional.add("runtime", 1);
    if (wants_help(args)) {
        return print_help(
            "carbon-launcher ports [RUNTIME] [--json]\n\n"
            "Prints the built-in port tables: every port at offset 0, whether the\n"
            "offset moves it, and whether a default pack opens it.",
            options, "  carbon-launcher ports streaming-integrator\n");
    }
    parse_command_line("ports", args, options, positional);
    const RuntimeCatalog catalog = RuntimeCatalog::load(find_runtimes_dir(common.runtimes_dir));
    std::vector<const RuntimeTable*> tables;
    if (runtime.empty()) {
        for (const auto& [name, table] : catalog.tables()) {
            tables.push_back(&table);
        }
    } else if (const auto* table = catalog.find(runtime)) {
        tables.push_back(table);
    } else {
        throw UsageError("ports: unknown runtime \"" + runtime + "\"" +
                         did_you_mean(runtime, catalog.names()));
    }
    nlohmann::json all = nlohmann::json::array();
    for (const auto* table : tables) {
        if (common.json) {
            all.push_back(table_to_json(*table));
        } else {
            print_table(*table);
        }
    }
    if (common.json) {
        std::cout << all.dump(2) << "\n";
    }
    return kExitOk;
}

int cmd_version(const Args&) {
    std::cout << "carbon-launcher " << kVersion << "\n";
    return kExitOk;
}

int cmd_help(const Args& args);

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"plan", "show offsets, ports, URLs, command lines and config edits; change nothing",
         cmd_plan},
        {"run", "start and supervise every instance in the foreground (systemd runs this)",
         cmd_run},
        {"apply", "write the planned offsets into the runtimes' config files (diff, atomic)",
         cmd_apply},
        {"check",
         "will the instances run here? JDK, memory, ephemeral ports, limits, host name, disk",
         cmd_check},
        {"ports", "print the built-in port tables", cmd_ports},
        {"export",
         "systemd units per instance, a sysctl.d port reservation, or an Ansible role (export "
         "--help)",
         cmd_export},
        {"status", "state, pids, offset, uptime, restarts of a running launcher's instances",
         cmd_status},
        {"start", "start instances (--wait shows progress until ready)", cmd_start},
        {"stop", "stop instances (--wait until stopped)", cmd_stop},
        {"restart", "restart instances; --rolling: one at a time, each ready before the next",
         cmd_restart},
        {"reload", "re-read the profiles: start new, stop removed, restart changed", cmd_reload},
        {"logs", "an instance's captured output (-f follows, -n N lines)", cmd_logs},
        {"dump", "a thread dump of instances' JVMs into STATE/dumps/", cmd_dump},
        {"wait-ready", "wait until instances are ready", cmd_wait_ready},
#ifdef _WIN32
        {"service", "install, uninstall or run as a Windows service (service --help)", cmd_service},
#endif
        {"version", "print the version", cmd_version},
        {"help", "this help, or `help COMMAND`", cmd_help},
    };
    return table;
}

int cmd_help(const Args& args) {
    if (!args.empty() && args.front() == "--commands") {  // for shell completion
        for (const auto& command : commands()) {
            std::cout << command.name << "\n";
        }
        return kExitOk;
    }
    if (!args.empty()) {
        for (const auto& command : commands()) {
            if (args.front() == command.name && command.run != cmd_help) {
                return command.run({"--help"});
            }
        }
    }
    std::cout << "carbon-launcher " << kVersion
              << ": launcher and supervisor for WSO2 runtimes (API Manager, Streaming Integrator,\n"
                 "SI Tooling) that gives every instance its own port offset.\n\n"
                 "usage: carbon-launcher COMMAND [OPTIONS]   (carbon-launcher COMMAND --help)\n\n"
                 "commands:\n";
    for (const auto& command : commands()) {
        std::cout << "  " << command.name << std::string(10 - std::string(command.name).size(), ' ')
                  << command.summary << "\n";
    }
    std::cout << "\nexit codes: 0 ok, 1 failure, 64 usage, 69 port conflict or unavailable,\n"
                 "70 internal error, 74 I/O error, 77 no permission, 78 bad configuration\n";
    return kExitOk;
}

const Command* find_command(const std::string& name) {
    for (const auto& command : commands()) {
        if (name == command.name) {
            return &command;
        }
    }
    return nullptr;
}

int dispatch(const Args& words) {
    if (words.empty()) {
        cmd_help({});
        return kExitUsage;
    }
    const std::string& name = words.front();
    if (name == "--help" || name == "-h") {
        return cmd_help({});
    }
    if (name == "--version" || name == "-V") {
        return cmd_version({});
    }
#ifdef _WIN32
    if (name == "internal-console-ctrl-c") {  // not listed: the graceful-stop helper
        return cmd_internal_console_ctrl_c(Args(words.begin() + 1, words.end()));
    }
#endif
    const Command* command = find_command(name);
    if (command == nullptr) {
        std::vector<std::string> names;
        for (const auto& c : commands()) {
            names.push_back(c.name);
        }
        throw UsageError("unknown command \"" + name + "\"" + did_you_mean(name, names));
    }
    return command->run(Args(words.begin() + 1, words.end()));
}

}  // namespace

int run_cli(int argc, char** argv) {
    const Args words(argv + 1, argv + argc);
    try {
        return dispatch(words);
    } catch (...) {
        const ErrorReport report = report_current_exception();
        for (const auto& message : report.messages) {
            std::cerr << "carbon-launcher: " << (report.internal ? "internal error: " : "error: ")
                      << message << "\n";
        }
        return report.exit_code;
    }
}

}  // namespace carbon
