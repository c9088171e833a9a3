#include <doctest/doctest.h>

#include "launch_spec.hpp"

using namespace carbon;

TEST_CASE("API-M with the argument method gets -DportOffset before its own args") {
    Profile profile;
    profile.script = "/opt/wso2am/bin/api-manager.sh";
    profile.offset_method = OffsetMethod::Argument;
    profile.args = {"-Dprofile=gateway-worker"};
    CHECK(launch_argv(profile, 4, Platform::Linux) ==
          std::vector<std::string>{"/opt/wso2am/bin/api-manager.sh", "-DportOffset=4",
                                   "-Dprofile=gateway-worker"});
    CHECK(launch_argv(profile, 4, Platform::Windows).front() == "cmd.exe");
}

TEST_CASE("config-method instances get no offset argument") {
    Profile profile;
    profile.script = "/opt/si/bin/server.sh";
    profile.offset_method = OffsetMethod::Config;
    CHECK(launch_argv(profile, 2, Platform::Linux) ==
          std::vector<std::string>{"/opt/si/bin/server.sh"});
}

TEST_CASE("shell_quote_join quotes only what needs it") {
    CHECK(shell_quote_join({"/a/b.sh", "-Dx=1", "two words", "it's"}) ==
          "/a/b.sh -Dx=1 'two words' 'it'\\''s'");
}

TEST_CASE("a Windows launch is one cmd.exe /s /c line with the script and each argument quoted") {
    Profile profile;
    profile.script = "C:/Program Files/WSO2/am 4.3/bin/api-manager.bat";
    profile.offset_method = OffsetMethod::Argument;
    profile.args = {"-Dprofile=gateway-worker", "-Xmx2g"};
    const auto argv = launch_argv(profile, 7, Platform::Windows);
    CHECK(windows_command_line(argv) ==
          "cmd.exe /d /s /c \"\"C:\\Program Files\\WSO2\\am 4.3\\bin\\api-manager.bat\" "
          "\"-DportOffset=7\" \"-Dprofile=gateway-worker\" -Xmx2g\"");
}

TEST_CASE("an argument cmd.exe cannot pass intact is refused by name") {
    Profile profile;
    profile.script = "C:\\wso2\\bin\\api-manager.bat";
    profile.offset_method = OffsetMethod::Config;
    for (const std::string bad : {"-Dx=%PATH%", "-Dx=\"q\"", "-Dx=a\nb"}) {
        profile.args = {bad};
        CHECK_THROWS_WITH_AS(windows_command_line(launch_argv(profile, 0, Platform::Windows)),
                             doctest::Contains("cmd.exe cannot"), std::invalid_argument);
    }
}
