#include <doctest/doctest.h>

#include "launch_spec.hpp"

using namespace carbon;

TEST_CASE("API-M with the argument method gets -DportOffset before its own args") {
    Profile profile;
    profile.script = "/opt/wso2am/bin/api-manager.sh";
    profile.offset_method = "argument";
    profile.args = {"-Dprofile=gateway-worker"};
    CHECK(launch_argv(profile, 4, Platform::Linux) ==
          std::vector<std::string>{"/opt/wso2am/bin/api-manager.sh", "-DportOffset=4",
                                   "-Dprofile=gateway-worker"});
    CHECK(launch_argv(profile, 4, Platform::Windows).front() == "cmd.exe");
}

TEST_CASE("config-method instances get no offset argument") {
    Profile profile;
    profile.script = "/opt/si/bin/server.sh";
    profile.offset_method = "config";
    CHECK(launch_argv(profile, 2, Platform::Linux) ==
          std::vector<std::string>{"/opt/si/bin/server.sh"});
}

TEST_CASE("shell_quote_join quotes only what needs it") {
    CHECK(shell_quote_join({"/a/b.sh", "-Dx=1", "two words", "it's"}) ==
          "/a/b.sh -Dx=1 'two words' 'it'\\''s'");
}
