#include "cli/cli_options.hpp"

#include <algorithm>

#include "cli/usage_error.hpp"
#include "diagnostics.hpp"
#include "os/paths.hpp"

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
    if (!socket_path.empty()) {
        return socket_path;
    }
    return default_socket_path(serving ? SocketRole::Serve : SocketRole::Connect);
}

void add_socket_options(po::options_description& options, CommonOptions& common, bool server) {
    common.serving = server;
#ifdef _WIN32
    const char* help = "control pipe (default \\\\.\\pipe\\carbon-launcher)";
#else
    const char* help =
        server ? "control socket (default /run/carbon-launcher/control.sock; for a non-root user "
                 "$XDG_RUNTIME_DIR/carbon-launcher/control.sock)"
               : "control socket (default /run/carbon-launcher/control.sock; for a non-root user "
                 "$XDG_RUNTIME_DIR/carbon-launcher/control.sock when it exists)";
#endif
    options.add_options()("socket", po::value(&common.socket_path)->value_name("PATH"), help);
    if (server) {
        options.add_options()("socket-group", po::value(&common.socket_group)->value_name("GROUP"),
                              "members may use the control socket (default: the launcher's group)");
    }
}

void add_common_options(po::options_description& options, CommonOptions& common) {
    options.add_options()("profiles", po::value(&common.profiles_dir)->value_name("DIR"),
                          "instance profiles (default /etc/carbon-launcher/profiles)")(
        "state-dir", po::value(&common.state_dir)->value_name("DIR"),
#ifdef _WIN32
        "sticky offsets and instance state (default %ProgramData%\\carbon-launcher\\state)")(
#else
        "sticky offsets and instance state (default /var/lib/carbon-launcher; for a non-root "
        "user $XDG_STATE_HOME/carbon-launcher, else ~/.local/state/carbon-launcher)")(
#endif
        "runtimes", po::value(&common.runtimes_dir)->value_name("DIR"),
        "port tables (default: installed beside the binary)")("json", po::bool_switch(&common.json),
                                                              "machine-readable output");
}

namespace {

/// Every option of `options` as it is typed: "--socket".
std::vector<std::string> option_names(const po::options_description& options) {
    std::vector<std::string> names;
    for (const auto& option : options.options()) {
        if (!option->long_name().empty()) {
            names.push_back("--" + option->long_name());
        }
    }
    return names;
}

}  // namespace

po::variables_map parse_command_line(const std::string& command,
                                     const std::vector<std::string>& args,
                                     const po::options_description& options,
                                     const po::positional_options_description& positional) {
    po::variables_map values;
    try {
        po::store(po::command_line_parser(args).options(options).positional(positional).run(),
                  values);
        po::notify(values);
    } catch (const po::unknown_option& e) {
        throw UsageError(command + ": " + e.what() +
                         did_you_mean(e.get_option_name(), option_names(options)));
    } catch (const po::error& e) {
        throw UsageError(command + ": " + e.what());
    }
    return values;
}

}  // namespace carbon
