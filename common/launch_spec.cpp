#include "launch_spec.hpp"

#include <algorithm>
#include <stdexcept>

namespace carbon {

std::vector<std::string> launch_argv(const Profile& profile, int offset, Platform platform) {
    std::vector<std::string> argv;
    if (platform == Platform::Windows) {
        // cmd.exe runs the .bat; /d skips AutoRun commands that could change behaviour.
        argv = {"cmd.exe", "/d", "/c"};
    }
    argv.push_back(profile.script.string());
    if (profile.offset_method == OffsetMethod::Argument) {
        argv.push_back("-DportOffset=" + std::to_string(offset));
    }
    argv.insert(argv.end(), profile.args.begin(), profile.args.end());
    return argv;
}

std::string windows_command_line(const std::vector<std::string>& argv) {
    if (argv.size() < 4) {
        throw std::invalid_argument("a Windows launch needs cmd.exe /d /c and a script");
    }
    const auto quoted = [](const std::string& arg) {
        if (arg.find_first_of(kCmdExeUnpassable) != std::string::npos) {
            throw std::invalid_argument("the argument " + arg +
                                        " holds \" or % or a line break, which cmd.exe cannot "
                                        "pass to the script intact; remove it from \"args\"");
        }
        const bool plain = !arg.empty() && arg.find_first_of(" \t&|<>^(),;=") == std::string::npos;
        return plain ? arg : "\"" + arg + "\"";
    };
    std::string script = argv[3];
    std::replace(script.begin(), script.end(), '/', '\\');  // cmd.exe wants backslashes
    std::string inner = "\"" + script + "\"";
    for (std::size_t i = 4; i < argv.size(); ++i) {
        // -DportOffset=1 holds '=', which cmd.exe treats as a separator: quoting keeps it whole.
        inner += " " + quoted(argv[i]);
    }
    return argv[0] + " " + argv[1] + " /s " + argv[2] + " \"" + inner + "\"";
}

std::string shell_quote_join(const std::vector<std::string>& argv) {
    std::string line;
    for (const auto& arg : argv) {
        if (!line.empty()) {
            line += ' ';
        }
        const bool plain =
            !arg.empty() && arg.find_first_not_of(
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789-_=./:,+@%") == std::string::npos;
        if (plain) {
            line += arg;
            continue;
        }
        line += '\'';
        for (const char c : arg) {
            line += c == '\'' ? std::string("'\\''") : std::string(1, c);
        }
        line += '\'';
    }
    return line;
}

}  // namespace carbon
