#include "child_environment.hpp"

extern char** environ;

namespace carbon {

std::vector<std::string> child_environment(const Profile& profile,
                                           const std::map<std::string, std::string>& launcher_env) {
    std::map<std::string, std::string> env = launcher_env;
    const auto inherited_java = env.find("JAVA_HOME");
    const std::string java_home = !profile.java_home.empty()    ? profile.java_home
                                  : inherited_java != env.end() ? inherited_java->second
                                                                : "";
    env.erase("CARBON_HOME");
    env.erase("RUNTIME_HOME");
    env.erase("JAVA_HOME");
    if (!java_home.empty()) {
        env["JAVA_HOME"] = java_home;
        const auto path = env.find("PATH");
        env["PATH"] = java_home + "/bin" + (path != env.end() ? ":" + path->second : "");
    }
    env["CARBON_HOME"] = profile.home.string();
    if (profile.table != nullptr && profile.table->config_file.ends_with(".yaml")) {
        env["RUNTIME_HOME"] = profile.home.string();  // SI's scripts honour it too
    }
    for (const auto& [name, value] : profile.env) {
        env[name] = value;
    }
    std::vector<std::string> entries;
    for (const auto& [name, value] : env) {
        entries.push_back(name + "=" + value);
    }
    return entries;
}

std::map<std::string, std::string> current_environment() {
    std::map<std::string, std::string> env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string text = *entry;
        const auto equals = text.find('=');
        if (equals != std::string::npos) {
            env.emplace(text.substr(0, equals), text.substr(equals + 1));
        }
    }
    return env;
}

}  // namespace carbon
