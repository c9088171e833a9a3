#include "os/host_facts.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string_view>

#include "child_environment.hpp"
#include "text_file.hpp"

namespace carbon {
namespace {

/// The file's bytes, or nullopt; a FIFO or device at that path is refused, never waited on
/// (a JAVA_HOME or a start script is outside input).
std::optional<std::string> read_small_file(const std::filesystem::path& path) {
    std::string error;
    return read_text_file(path, error);
}

std::map<std::string, std::string> as_map(const std::vector<std::string>& assignments) {
    std::map<std::string, std::string> map;
    for (const auto& assignment : assignments) {
        const auto equals = assignment.find('=');
        if (equals != std::string::npos) {
            map[assignment.substr(0, equals)] = assignment.substr(equals + 1);
        }
    }
    return map;
}

/// The JDK's version: JAVA_HOME/release; else the release file of the JDK that JAVA_HOME/bin/java
/// links to (Debian's /usr/bin/java -> /usr/lib/jvm/...); else `java -version`.
JdkFacts read_jdk(const std::string& java_home) {
    JdkFacts jdk;
    jdk.java_home = java_home;
    if (java_home.empty()) {
        return jdk;
    }
    const std::filesystem::path home(java_home);
    const auto java = home / "bin" / (host_platform() == Platform::Windows ? "java.exe" : "java");
    std::vector<std::filesystem::path> release_files{home / "release"};
    std::error_code ec;
    const auto real_java = std::filesystem::canonical(java, ec);
    if (!ec) {
        release_files.push_back(real_java.parent_path().parent_path() / "release");
    }
    for (const auto& release : release_files) {
        if (auto text = read_small_file(release)) {
            jdk.version = parse_jdk_release(*text);
            if (!jdk.version.empty()) {
                jdk.read_from = release.string();
                return jdk;
            }
        }
    }
    if (!std::filesystem::exists(java, ec)) {
        jdk.error = "no " + java.string() + " and no release file";
        return jdk;
    }
    jdk.version = run_java_version(java, jdk.error);
    jdk.read_from = java.string() + " -version";
    return jdk;
}

/// True when `address` belongs to this host: it can be bound.
bool is_local_address(const boost::asio::ip::address& address) {
    if (address.is_loopback()) {
        return true;
    }
    boost::asio::io_context io;
    boost::asio::ip::udp::socket socket(io);
    boost::system::error_code ec;
    socket.open(address.is_v4() ? boost::asio::ip::udp::v4() : boost::asio::ip::udp::v6(), ec);
    if (!ec) {
        socket.bind({address, 0}, ec);
    }
    return !ec;
}

void read_hostname(HostFacts& facts) {
    boost::system::error_code ec;
    facts.hostname = boost::asio::ip::host_name(ec);
    if (ec) {
        facts.hostname_error = ec.message();
        return;
    }
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    const auto start = std::chrono::steady_clock::now();
    // A blocking lookup on purpose: this is the lookup the JVM will make at start, timed.
    const auto results = resolver.resolve(facts.hostname, "", ec);
    facts.hostname_lookup_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (ec) {
        facts.hostname_error = ec.message();
        return;
    }
    facts.hostname_resolved = true;
    for (const auto& entry : results) {
        const auto address = entry.endpoint().address();
        if (!facts.hostname_addresses.empty()) {
            facts.hostname_addresses += ", ";
        }
        facts.hostname_addresses += address.to_string();
        facts.hostname_local = facts.hostname_local || is_local_address(address);
    }
}

void read_state_dir(HostFacts& facts, const std::filesystem::path& state_dir) {
    facts.state_dir = state_dir.string();
    std::error_code ec;
    std::filesystem::create_directories(state_dir, ec);
    if (ec) {
        facts.state_dir_error = "cannot create it: " + ec.message();
        return;
    }
    const auto probe = state_dir / ".check-writable";
    {
        std::ofstream file(probe);
        if (!file) {
            facts.state_dir_error = "cannot write in it";
            return;
        }
    }
    std::filesystem::remove(probe, ec);
}

}  // namespace

std::optional<std::filesystem::path> test_hooks_root() {
    const char* hooks = std::getenv("CARBON_LAUNCHER_TEST_HOOKS");
    const char* root = std::getenv("CARBON_LAUNCHER_TEST_ROOT");
    if (hooks != nullptr && std::string_view(hooks) == "1" && root != nullptr && *root != '\0') {
        return std::filesystem::path(root);
    }
    return std::nullopt;
}

std::filesystem::path host_files_root() {
    return test_hooks_root().value_or("/");
}

HostFacts read_host_facts(const std::filesystem::path& state_dir) {
    HostFacts facts;
    facts.windows = host_platform() == Platform::Windows;
    read_platform_host_facts(facts);
    read_hostname(facts);
    read_state_dir(facts, state_dir);
    return facts;
}

InstanceFacts read_instance_facts(const InstancePlan& plan,
                                  const std::map<std::string, std::string>& launcher_env) {
    const auto& profile = *plan.profile;
    InstanceFacts facts;
    facts.plan = &plan;
    facts.environment = as_map(child_environment(profile, launcher_env));
    const auto java_home = facts.environment.find("JAVA_HOME");
    facts.jdk = read_jdk(java_home == facts.environment.end() ? std::string() : java_home->second);
    facts.script_text = read_small_file(profile.script).value_or("");
    std::error_code ec;
    const auto space = std::filesystem::space(profile.home, ec);
    if (!ec) {
        facts.disk_free = space.available;
        facts.filesystem = filesystem_of(profile.home);
    }
    return facts;
}

}  // namespace carbon
