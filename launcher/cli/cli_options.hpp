#pragma once

#include <boost/program_options.hpp>
#include <filesystem>
#include <string>
#include <vector>

namespace carbon {

/// Options shared by the commands that read profiles.
struct CommonOptions {
    std::string profiles_dir;
    std::string state_dir;
    std::string runtimes_dir;
    std::string socket_path;
    std::string socket_group;
    std::string ready_when = "all-ready";  // run: when to tell the service manager READY=1
    bool json = false;
    bool serving = false;  // `run`: the socket's default is where to listen, not where to connect

    std::filesystem::path profiles() const;
    std::filesystem::path state() const;
    std::filesystem::path socket() const;
};

void add_common_options(boost::program_options::options_description& options,
                        CommonOptions& common);

/// --socket (and, for `run`, --socket-group).
void add_socket_options(boost::program_options::options_description& options, CommonOptions& common,
                        bool server);

/// True when the arguments ask for --help / -h.
bool wants_help(const std::vector<std::string>& args);

/// Parses a subcommand's arguments; throws UsageError with the subcommand named.
boost::program_options::variables_map parse_command_line(
    const std::string& command, const std::vector<std::string>& args,
    const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description& positional = {});

}  // namespace carbon
