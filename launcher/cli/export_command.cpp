#include "cli/export_command.hpp"

#include <iostream>

#include "child_environment.hpp"
#include "cli/check_command.hpp"
#include "cli/cli_options.hpp"
#include "cli/export_ansible.hpp"
#include "cli/usage_error.hpp"
#include "exit_codes.hpp"
#include "os/atomic_file.hpp"
#include "planning/config_edits.hpp"
#include "planning/planning.hpp"
#include "planning/state_store.hpp"
#include "systemd_unit.hpp"

namespace po = boost::program_options;

namespace carbon {

int cmd_export(const std::vector<std::string>& args) {
    CommonOptions common;
    std::string format;
    std::string out_dir = ".";
    po::options_description options("export options");
    add_common_options(options, common);
    options.add_options()("format", po::value(&format), "systemd, sysctl or ansible")(
        "out", po::value(&out_dir)->value_name("DIR"), "where to write the units (default: .)")(
        "help,h", "this help");
    po::positional_options_description positional;
    positional.add("format", 1);
    if (wants_help(args)) {
        std::cout << "usage: carbon-launcher export systemd [--profiles DIR] [--out DIR]\n"
                     "       carbon-launcher export sysctl [--profiles DIR] [--out DIR]\n"
                     "       carbon-launcher export ansible [--out DIR]\n\n"
                     "systemd: writes carbon-NAME.service for every instance, at the offsets the\n"
                     "planner chooses now (recorded as sticky), and writes those offsets into the\n"
                     "SI and Tooling configs, as `apply` does. Copy the units to\n"
                     "/etc/systemd/system.\n"
                     "sysctl: writes 60-carbon-launcher.conf, reserving every planned port from\n"
                     "the ephemeral range (net.ipv4.ip_local_reserved_ports). Copy it to\n"
                     "/etc/sysctl.d/ and run `sysctl --system`.\n"
                     "ansible: writes an Ansible role (roles/carbon_launcher), an example\n"
                     "playbook (site.yml) and inventory (inventory.yml, host_vars/) that run\n"
                     "carbon-launcher on many hosts. A later export replaces the role and\n"
                     "keeps your playbook, inventory and host_vars.\n\n"
                  << options;
        return kExitOk;
    }
    parse_command_line("export", args, options, positional);
    if (format == "ansible") {  // the same for every host: nothing of this host is planned
        return export_ansible(find_shipped_ansible_dir(), out_dir);
    }
    if (format != "systemd" && format != "sysctl") {
        throw UsageError("export: unknown format \"" + format +
                         "\"; use systemd, sysctl or ansible");
    }
    const auto session = plan_from_options(common);
    if (!session->plan.ok()) {
        report_plan_conflicts(session->plan);
        return kExitUnavailable;
    }
    if (format == "sysctl") {
        save_sticky_offsets(common.state(), session->plan);  // the reserved ports stay planned
        return export_sysctl(*session, out_dir);
    }
    std::vector<const InstancePlan*> instances;
    for (const auto& instance : session->plan.instances) {
        instances.push_back(&instance);
    }
    // The units carry fixed offsets: the SI/Tooling configs must say the same before any start.
    write_config_edits(compute_config_edits(session->plan, instances, false));
    std::filesystem::create_directories(out_dir);
    for (const auto& instance : session->plan.instances) {
        // Only what the launcher itself would set: nothing of this shell's environment.
        const auto environment = child_environment(
            *instance.profile,
            {{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}});
        const auto file =
            std::filesystem::path(out_dir) / exported_unit_name(instance.profile->name);
        write_file_atomically(file, render_instance_unit(instance, environment));
        std::cout << file.string() << ": " << instance.profile->name << " at offset "
                  << instance.offset << "\n";
    }
    save_sticky_offsets(common.state(), session->plan);
    return kExitOk;
}

}  // namespace carbon
