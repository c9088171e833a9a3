#include "paths.hpp"

namespace carbon {

std::filesystem::path executable_path() {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/exe", ec);
}

std::filesystem::path default_profiles_dir() {
    return "/etc/carbon-launcher/profiles";
}
std::filesystem::path default_socket_path() {
    return "/run/carbon-launcher/control.sock";
}

std::filesystem::path default_state_dir() {
    return "/var/lib/carbon-launcher";
}

}  // namespace carbon
