#include "cli_options.hpp"

#include <algorithm>

#include "commands.hpp"
#include "paths.hpp"

namespace po = boost::program_options;

namespace carbon {

std::filesystem::path CommonOptions::profiles() const {
    return profiles_dir.empty() ? default_profiles_dir() : std::filesystem::path(profiles_dir);
}

std::filesystem::path CommonOptions::state() const {
    return state_dir.empty() ? default_state_dir() : std::filesystem::path(state_dir);
}

bool wants_help(const std::vector<std::string>& args) {
    return std::any_of(args.begin(), args.end(),
                       [](const std::string& arg) { return arg == "--help" || arg == "-h"; });
}

std::filesystem::path CommonOptions::socket() const {
    return socket_path.empty() ? default_socket_path() : std::filesystem::path(socket_path);
}

void add_socket_options(po::options_description& options, CommonOptions& common, bool server) {
    options.add_options()("socket", po::value(&common.socket_path)->value_name("PATH"),
                          "control socket (default /run/carbon-launcher/control.sock)");
    if (server) {
        options.add_options()("socket-group", po::value(&common.socket_group)->value_name("GROUP"),
                              "members may use the control socket (default: the launcher's group)");
    }
}

void add_common_options(po::options_description& options, CommonOptions& common) {
    options.add_options()("profiles", po::value(&common.profiles_dir)->value_name("DIR"),
                          "instance profiles (default /etc/carbon-launcher/profiles)")(
        "state-dir", po::value(&common.state_dir)->value_name("DIR"),
        "sticky offsets and instance state (default /var/lib/carbon-launcher)")(
        "runtimes", po::value(&common.runtimes_dir)->value_name("DIR"),
        "port tables (default: installed beside the binary)")("json", po::bool_switch(&common.json),
                                                              "machine-readable output");
}

po::variables_map parse_command_line(const std::string& command,
                                     const std::vector<std::string>& args,
                                     const po::options_description& options,
                                     const po::positional_options_description& positional) {
    po::variables_map values;
    try {
        po::store(po::command_line_parser(args).options(options).positional(positional).run(),
                  values);
        po::notify(values);
    } catch (const po::error& e) {
        throw UsageError(command + ": " + e.what());
    }
    return values;
}

}  // namespace carbon
