#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "exit_codes.hpp"
#include "os/paths.hpp"

namespace carbon {
namespace {

const char* const kSystemSocket = "/run/carbon-launcher/control.sock";
const char* const kSystemStateDir = "/var/lib/carbon-launcher";

std::string environment(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

/// $XDG_RUNTIME_DIR when this user can use it (absolute, a directory, owned by the user), else
/// nullopt with the reason. `runuser` and `su` without `-l` keep the caller's, which is not ours.
std::optional<std::filesystem::path> user_runtime_dir(std::string& why_not) {
    const std::string dir = environment("XDG_RUNTIME_DIR");
    if (dir.empty()) {
        why_not = "XDG_RUNTIME_DIR is not set";
        return std::nullopt;
    }
    struct stat info {};
    if (dir.front() != '/' || ::stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
        why_not = "XDG_RUNTIME_DIR (" + dir + ") is not an existing absolute directory";
        return std::nullopt;
    }
    if (info.st_uid != ::geteuid()) {
        why_not = "XDG_RUNTIME_DIR (" + dir + ") belongs to another user";
        return std::nullopt;
    }
    return dir;
}

std::filesystem::path user_socket(const std::filesystem::path& runtime_dir) {
    return runtime_dir / "carbon-launcher" / "control.sock";
}

}  // namespace

std::filesystem::path executable_path() {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/exe", ec);
}

std::filesystem::path default_profiles_dir() {
    return "/etc/carbon-launcher/profiles";
}

std::filesystem::path default_socket_path(SocketRole role) {
    if (::geteuid() == 0) {
        return kSystemSocket;
    }
    std::string why_not;
    const auto runtime_dir = user_runtime_dir(why_not);
    if (role == SocketRole::Connect) {
        // The user's own launcher if one listens, else the system one (its group may use it).
        std::error_code ec;
        if (runtime_dir && std::filesystem::exists(user_socket(*runtime_dir), ec)) {
            return user_socket(*runtime_dir);
        }
        return kSystemSocket;
    }
    if (!runtime_dir) {
        throw ExitError(kExitUsage,
                        "no default control socket for a non-root user: " + why_not +
                            "; pass --socket PATH (a path in a directory you can write), or run "
                            "as root to use " +
                            kSystemSocket);
    }
    return user_socket(*runtime_dir);
}

std::filesystem::path default_state_dir() {
    if (::geteuid() == 0) {
        return kSystemStateDir;
    }
    if (const std::string state_home = environment("XDG_STATE_HOME");
        !state_home.empty() && state_home.front() == '/') {
        return std::filesystem::path(state_home) / "carbon-launcher";
    }
    std::string home = environment("HOME");
    if (home.empty()) {
        if (const passwd* entry = ::getpwuid(::geteuid()); entry != nullptr && entry->pw_dir) {
            home = entry->pw_dir;
        }
    }
    if (home.empty() || home.front() != '/') {
        throw ExitError(kExitUsage,
                        "no default state dir for a non-root user without a home directory: pass "
                        "--state-dir DIR, or run as root to use " +
                            std::string(kSystemStateDir));
    }
    return std::filesystem::path(home) / ".local" / "state" / "carbon-launcher";
}

}  // namespace carbon
