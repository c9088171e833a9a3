#include "child_environment.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace carbon {
namespace {

/// What systemd hands the launcher's service alone: its notify socket and watchdog, and the
/// sockets it passed. A JVM that inherited NOTIFY_SOCKET and used it would only fill the journal
/// with "reception only permitted for main PID" (NotifyAccess=main).
constexpr const char* kServiceManagerVariables[] = {
    "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"};

}  // namespace

std::vector<std::string> child_environment(const Profile& profile,
                                           const std::map<std::string, std::string>& launcher_env,
                                           Platform platform) {
    std::map<std::string, std::string> env = launcher_env;
    const bool windows = platform == Platform::Windows;
    // Windows names are case-insensitive ("Path"): one spelling, so nothing is duplicated.
    const auto key = [windows](std::string name) {
        if (windows) {
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        }
        return name;
    };
    if (windows) {
        std::map<std::string, std::string> upper;
        for (const auto& [name, value] : env) {
            upper[key(name)] = value;
        }
        env = std::move(upper);
    }
    const auto inherited_java = env.find("JAVA_HOME");
    const std::string java_home = !profile.java_home.empty()    ? profile.java_home
                                  : inherited_java != env.end() ? inherited_java->second
                                                                : "";
    env.erase("CARBON_HOME");
    env.erase("RUNTIME_HOME");
    for (const char* name : kServiceManagerVariables) {
        env.erase(name);
    }
    if (profile.table != nullptr && profile.table->family == RuntimeFamily::Carbon5) {
        env.erase("RUNTIME");  // carbon.sh takes the runtime name from it before RUNTIME_HOME
    }
    env.erase("JAVA_HOME");
    if (!java_home.empty()) {
        env["JAVA_HOME"] = java_home;
        const auto path = env.find("PATH");
        const std::string bin = java_home + (windows ? "\\bin" : "/bin");
        const std::string separator = windows ? ";" : ":";
        env["PATH"] = bin + (path != env.end() ? separator + path->second : "");
    }
    env["CARBON_HOME"] = profile.home.string();
    for (const auto& [name, value] : profile.env) {
        env[key(name)] = value;
    }
    std::vector<std::string> entries;
    for (const auto& [name, value] : env) {
        entries.push_back(name + "=" + value);
    }
    return entries;
}

}  // namespace carbon
