#include "launch_spec.hpp"

namespace carbon {

std::vector<std::string> launch_argv(const Profile& profile, int offset, Platform platform) {
    std::vector<std::string> argv;
    if (platform == Platform::Windows) {
        // cmd.exe runs the .bat; /d skips AutoRun commands that could change behaviour.
        argv = {"cmd.exe", "/d", "/c"};
    }
    argv.push_back(profile.script.string());
    if (profile.offset_method == "argument") {
        argv.push_back("-DportOffset=" + std::to_string(offset));
    }
    argv.insert(argv.end(), profile.args.begin(), profile.args.end());
    return argv;
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
