#include "cli/apply_command.hpp"

#include <iostream>

#include "cli/cli_options.hpp"
#include "cli/usage_error.hpp"
#include "config_patch.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "os/host_ports.hpp"
#include "os/process_probe.hpp"
#include "plan_report.hpp"
#include "planning/config_edits.hpp"
#include "planning/config_writer.hpp"
#include "planning/host_checks.hpp"
#include "planning/planning.hpp"
#include "planning/state_store.hpp"
#include "text_lines.hpp"

namespace po = boost::program_options;

namespace carbon {
namespace {

/// Why the instance looks alive, or "" when it does not.
std::string why_running(const InstancePlan& instance, const HostPorts& host) {
    const Profile& profile = *instance.profile;
    if (!profile.table->pid_file.empty()) {
        if (const auto pid =
                live_runtime_pid(profile.home / profile.table->pid_file, profile.home)) {
            return "its pid file " + (profile.home / profile.table->pid_file).string() +
                   " names live process " + std::to_string(*pid);
        }
    }
    for (const auto& edit : review_config(profile, instance.offset).edits) {
        const int current = edit.current ? std::atoi(edit.current->c_str()) : 0;
        for (const auto& port : profile.ports) {
            if (port.ready_probe && host.is_held(port.effective(current))) {
                return "its " + port.purpose + " port " + std::to_string(port.effective(current)) +
                       " at the current offset " + std::to_string(current) + " is bound by " +
                       host.holder(port.effective(current)).describe();
            }
        }
    }
    return "";
}

}  // namespace

int cmd_apply(const std::vector<std::string>& args) {
    CommonOptions common;
    bool dry_run = false;
    bool force = false;
    std::vector<std::string> names;
    po::options_description options("apply options");
    add_common_options(options, common);
    options.add_options()("dry-run,n", po::bool_switch(&dry_run), "print the diffs, write nothing")(
        "force", po::bool_switch(&force),
        "patch even an instance that looks alive, or an offset that holds a placeholder")(
        "name", po::value(&names), "instances (default: all)")("help,h", "this help");
    po::positional_options_description positional;
    positional.add("name", -1);
    if (wants_help(args)) {
        std::cout
            << "usage: carbon-launcher apply [NAME...] [--dry-run] [--force]\n\n"
               "Plans, then writes each instance's offset into its config file (SI and\n"
               "Tooling: deployment.yaml; API-M with \"offset_method\": \"config\" or\n"
               "\"update_advertised_urls\": deployment.toml), printing a unified diff per\n"
               "file. The first change keeps FILE.carbon-launcher.orig. Writes are atomic.\n\n"
            << options
            << "\nexamples:\n  carbon-launcher apply --dry-run\n"
               "  carbon-launcher apply si-1\n";
        return kExitOk;
    }
    parse_command_line("apply", args, options, positional);
    const auto session = plan_from_options(common);
    if (!session->plan.ok()) {
        report_plan_conflicts(session->plan);
        return kExitUnavailable;
    }
    if (!dry_run) {  // a JDK outside the pack's range, too little memory: refuse before writing
        require_host_checks(*session, common.state(), [](const std::string& warning) {
            std::cerr << "carbon-launcher: warning: " << warning << "\n";
        });
    }
    const auto selected = select_instances(session->plan, names, "apply");
    const auto edits = compute_config_edits(session->plan, selected, force);
    const HostPorts host;
    std::size_t changes = 0;
    for (const auto& edit : edits) {
        if (!edit.changes()) {
            continue;
        }
        ++changes;
        if (const std::string running = why_running(*edit.instance, host);
            !running.empty() && !force) {
            std::cerr << "carbon-launcher: error: " << edit.instance->profile->name
                      << " appears to be running (" << running
                      << "); stop it first, or pass --force; nothing was written\n";
            return kExitUnavailable;
        }
    }
    for (const auto& edit : edits) {
        std::cout << unified_diff(edit.before, edit.after, edit.file.string());
    }
    if (!dry_run) {
        write_config_edits(edits);
        save_sticky_offsets(common.state(), session->plan);
    }
    std::cout << "apply: " << changes << " file" << (changes == 1 ? "" : "s")
              << (dry_run ? " would change" : " changed") << ", " << edits.size() - changes
              << " already up to date\n";
    return kExitOk;
}

}  // namespace carbon
