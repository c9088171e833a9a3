#include <doctest/doctest.h>

#include <algorithm>

#include "child_environment.hpp"
#include "test_support.hpp"

using namespace carbon;

namespace {

bool has(const std::vector<std::string>& env, const std::string& entry) {
    return std::find(env.begin(), env.end(), entry) != env.end();
}

}  // namespace

TEST_CASE("the launcher's own CARBON_HOME and RUNTIME_HOME never leak into an instance") {
    Profile profile;
    profile.home = "/opt/si-1";
    profile.table = test::source_catalog().find("streaming-integrator");
    profile.java_home = "/usr/lib/jvm/17";
    profile.env = {{"JAVA_OPTS", "-Xmx1g"}};
    const auto env = child_environment(profile,
                                       {{"CARBON_HOME", "/opt/other"},
                                        {"RUNTIME_HOME", "/opt/other"},
                                        {"JAVA_HOME", "/old/jdk"},
                                        {"PATH", "/usr/bin"},
                                        {"LANG", "C.UTF-8"}},
                                       Platform::Linux);
    CHECK(has(env, "CARBON_HOME=/opt/si-1"));
    CHECK(std::none_of(env.begin(), env.end(),
                       [](const std::string& e) { return e.rfind("RUNTIME_HOME=", 0) == 0; }));
    CHECK(has(env, "JAVA_HOME=/usr/lib/jvm/17"));
    CHECK(has(env, "PATH=/usr/lib/jvm/17/bin:/usr/bin"));
    CHECK(has(env, "JAVA_OPTS=-Xmx1g"));
    CHECK(has(env, "LANG=C.UTF-8"));
    CHECK_FALSE(has(env, "CARBON_HOME=/opt/other"));
}

TEST_CASE("what systemd gave the launcher's service stays with the launcher") {
    Profile profile;
    profile.home = "/opt/apim-1";
    profile.table = test::source_catalog().find("api-manager");
    const auto env = child_environment(profile,
                                       {{"NOTIFY_SOCKET", "/run/systemd/notify"},
                                        {"WATCHDOG_USEC", "60000000"},
                                        {"WATCHDOG_PID", "42"},
                                        {"LISTEN_FDS", "1"},
                                        {"LISTEN_PID", "42"},
                                        {"LISTEN_FDNAMES", "control"},
                                        {"INVOCATION_ID", "abc"}},
                                       Platform::Linux);
    for (const char* name : {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "LISTEN_FDS=",
                             "LISTEN_PID=", "LISTEN_FDNAMES="}) {
        CAPTURE(name);
        CHECK(std::none_of(env.begin(), env.end(),
                           [name](const std::string& e) { return e.rfind(name, 0) == 0; }));
    }
    CHECK(has(env, "INVOCATION_ID=abc"));  // which service run it belongs to: still true of it
}

TEST_CASE("SI gets no RUNTIME_HOME=HOME: its scripts' default HOME/wso2/server names the config") {
    // RUNTIME_HOME=HOME would make Carbon 5's runtime name the home's folder name and the JVM
    // would read conf/<that name>/deployment.yaml, not the patched conf/server/deployment.yaml.
    for (const char* runtime : {"streaming-integrator", "si-tooling"}) {
        Profile profile;
        profile.home = "/opt/si-a";
        profile.table = test::source_catalog().find(runtime);
        REQUIRE(profile.table != nullptr);
        CHECK(profile.table->runtime_home == "wso2/server");
        CHECK(profile.table->config_file == "conf/server/deployment.yaml");
        const auto env = child_environment(
            profile, {{"RUNTIME_HOME", "/opt/si-a"}, {"RUNTIME", "si-a"}}, Platform::Linux);
        CHECK_FALSE(has(env, "RUNTIME_HOME=/opt/si-a"));
        CHECK_FALSE(has(env, "RUNTIME=si-a"));  // carbon.sh would name the runtime after it
        CHECK(std::none_of(env.begin(), env.end(),
                           [](const std::string& e) { return e.rfind("RUNTIME_HOME=", 0) == 0; }));
    }
}

TEST_CASE("API-M gets no RUNTIME_HOME and inherits JAVA_HOME when the profile has none") {
    Profile profile;
    profile.home = "/opt/apim";
    profile.table = test::source_catalog().find("api-manager");
    const auto env = child_environment(profile, {{"JAVA_HOME", "/jdk"}}, Platform::Linux);
    CHECK(has(env, "JAVA_HOME=/jdk"));
    CHECK(has(env, "PATH=/jdk/bin"));
    CHECK(std::none_of(env.begin(), env.end(),
                       [](const std::string& e) { return e.rfind("RUNTIME_HOME=", 0) == 0; }));
}

TEST_CASE("on Windows PATH is found whatever its case and JAVA_HOME\\bin goes first with ';'") {
    Profile profile;
    profile.home = "C:\\wso2\\apim-1";
    profile.table = test::source_catalog().find("api-manager");
    profile.java_home = "C:\\jdk17";
    profile.env = {{"java_opts", "-Xmx1g"}};
    const auto env = child_environment(
        profile, {{"Path", "C:\\Windows\\system32"}, {"java_home", "C:\\old"}}, Platform::Windows);
    CHECK(has(env, "PATH=C:\\jdk17\\bin;C:\\Windows\\system32"));
    CHECK(has(env, "JAVA_HOME=C:\\jdk17"));
    CHECK(has(env, "CARBON_HOME=C:\\wso2\\apim-1"));
    CHECK(has(env, "JAVA_OPTS=-Xmx1g"));
    CHECK(std::none_of(env.begin(), env.end(), [](const std::string& e) {
        return e.rfind("Path=", 0) == 0 || e.rfind("java_home=", 0) == 0;
    }));
}
