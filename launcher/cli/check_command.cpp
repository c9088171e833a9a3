#include "cli/check_command.hpp"

#include <iostream>

#include "cli/cli_options.hpp"
#include "exit_codes.hpp"
#include "os/atomic_file.hpp"
#include "planning/host_checks.hpp"

namespace po = boost::program_options;

namespace carbon {
namespace {

constexpr const char* kSysctlDropIn = "60-carbon-launcher.conf";

}  // namespace

int cmd_check(const std::vector<std::string>& args) {
    CommonOptions common;
    std::vector<std::string> names;
    po::options_description options("check options");
    add_common_options(options, common);
    options.add_options()("name", po::value(&names), "instances to check (default: all)")(
        "help,h", "this help");
    po::positional_options_description positional;
    positional.add("name", -1);
    if (wants_help(args)) {
        std::cout << "usage: carbon-launcher check [NAME...] [--json]\n\n"
                     "Will these instances run on this host? Checks each instance's JDK against\n"
                     "its pack's range, the memory they need against the host's (and the\n"
                     "cgroup's), planned ports inside the ephemeral port range (Windows: the\n"
                     "dynamic and the excluded port ranges netsh shows), open-file and\n"
                     "thread limits, the host name's lookup, and free disk for heap dumps.\n"
                     "One line per finding: ok, warn or fail, with what to do.\n"
                     "Exit codes: 0 ok or warnings, 69 a failure, 78 bad profiles.\n"
                     "`run` and `apply` run the same checks and refuse on a failure.\n\n"
                  << options;
        return kExitOk;
    }
    parse_command_line("check", args, options, positional);
    const auto session = plan_from_options(common);
    const auto selected = select_instances(session->plan, names, "check");
    const auto report = check_instances(selected, common.state());
    if (common.json) {
        std::cout << check_report_to_json(report).dump(2) << "\n";
    } else {
        std::cout << render_check_report(report);
    }
    if (!session->plan.ok()) {
        report_plan_conflicts(session->plan);
        return kExitUnavailable;
    }
    return report.failed() ? kExitUnavailable : kExitOk;
}

int export_sysctl(const PlanningSession& session, const std::string& out_dir) {
    std::vector<int> ports;
    for (const auto& instance : session.plan.instances) {
        for (const auto& port : instance.ports) {
            ports.push_back(port.port);
        }
    }
    const std::string reserved = format_reserved_ports(ports);
    const auto file = std::filesystem::path(out_dir) / kSysctlDropIn;
    std::filesystem::create_directories(out_dir);
    write_file_atomically(
        file,
        "# Written by carbon-launcher export sysctl: the ports the launcher planned for its\n"
        "# instances, kept out of the ephemeral range so that no outgoing connection takes one\n"
        "# before its JVM binds it. Install: copy to /etc/sysctl.d/ and run\n"
        "# `sysctl --system`. Write it again after the plan changes. It replaces any other\n"
        "# ip_local_reserved_ports setting: merge those ports into this line by hand.\n"
        "net.ipv4.ip_local_reserved_ports = " +
            reserved + "\n");
    std::cout << file.string() << ": reserves " << reserved << "\n";
    return kExitOk;
}

}  // namespace carbon
