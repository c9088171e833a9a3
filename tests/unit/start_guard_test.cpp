// The start guard: a .bat start needs HOME/tmp to be a plain folder, because WSO2's batch files
// empty whatever folder they are in after `cd "%CARBON_HOME%\tmp"`. Portable: built into
// launcher_unit_tests (Linux) and windows_launcher_tests (under Wine).
#include <doctest/doctest.h>

#include "diagnostics.hpp"
#include "planning/start_guard.hpp"
#include "test_support.hpp"

using namespace carbon;
namespace fs = std::filesystem;

namespace {

Profile profile_with(const fs::path& home, const std::string& script) {
    Profile profile;
    profile.name = "apim-1";
    profile.source = home.parent_path() / "apim-1.json";
    profile.home = home;
    profile.script = home / "bin" / script;
    test::write_file(profile.script, "@echo off\r\n");
    test::write_file(home / "sentinel.txt", "the pack\n");
    return profile;
}

bool says(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a batch start is recognised by its extension, in any case") {
    test::TempDir dir;
    CHECK(starts_through_batch_file(profile_with(dir / "a", "api-manager.bat")));
    CHECK(starts_through_batch_file(profile_with(dir / "b", "API-MANAGER.BAT")));
    CHECK(starts_through_batch_file(profile_with(dir / "c", "server.cmd")));
    CHECK_FALSE(starts_through_batch_file(profile_with(dir / "d", "api-manager.sh")));
    CHECK_FALSE(starts_through_batch_file(profile_with(dir / "e", "bat")));
}

TEST_CASE("a missing tmp is only reported fine by the check, and created before a .bat start") {
    test::TempDir dir;
    const Profile profile = profile_with(dir / "home", "api-manager.bat");
    const fs::path tmp = profile.home / "tmp";
    CHECK(check_home_before_run(profile).empty());
    CHECK_FALSE(fs::exists(tmp));  // the check changes nothing
    CHECK(prepare_home_for_start(profile).empty());
    CHECK(fs::is_directory(tmp));
    CHECK(prepare_home_for_start(profile).empty());  // an existing folder is fine
    CHECK(test::read_file(profile.home / "sentinel.txt") == "the pack\n");
    CHECK_NOTHROW(require_homes_safe_to_start({profile}));
}

TEST_CASE("tmp as a file refuses a .bat start, names the path and the fix, and deletes nothing") {
    test::TempDir dir;
    const Profile profile = profile_with(dir / "home", "api-manager.bat");
    const fs::path tmp = profile.home / "tmp";
    test::write_file(tmp, "not a folder\n");
    for (const std::string& problem :
         {check_home_before_run(profile), prepare_home_for_start(profile)}) {
        CHECK(says(problem, tmp.string() + " is a file, not a folder"));
        CHECK(says(problem, "api-manager.bat"));
        CHECK(says(problem, "Nothing was started and nothing was deleted"));
        CHECK(says(problem, "create an empty folder named tmp"));
    }
    CHECK(test::read_file(tmp) == "not a folder\n");
    CHECK(test::read_file(profile.home / "sentinel.txt") == "the pack\n");

    // Run and plan validation: a configuration error naming the profile file.
    try {
        require_homes_safe_to_start({profile});
        FAIL("expected a ConfigError");
    } catch (const ConfigError& e) {
        REQUIRE(e.diagnostics().size() == 1);
        CHECK(e.diagnostics()[0].file == profile.source);
        CHECK(says(e.diagnostics()[0].to_string(), "apim-1.json: /home: " + tmp.string()));
    }
}

TEST_CASE("tmp as a link refuses a .bat start and leaves the linked folder alone") {
    test::TempDir dir;
    const Profile profile = profile_with(dir / "home", "api-manager.bat");
    const fs::path elsewhere = dir / "elsewhere";
    test::write_file(elsewhere / "precious.txt", "keep\n");
    std::error_code ec;
    fs::create_directory_symlink(elsewhere, profile.home / "tmp", ec);
    if (ec) {  // MinGW's std::filesystem on Wine: no symlinks (junctions: windows_launcher_test)
        MESSAGE("cannot create a directory symlink here: " << ec.message());
        return;
    }
    const std::string problem = prepare_home_for_start(profile);
    CHECK(says(problem, "is a link or junction"));
    CHECK(says(problem, "Remove the link"));
    CHECK(check_home_before_run(profile) == problem);
    CHECK(test::read_file(elsewhere / "precious.txt") == "keep\n");
}

TEST_CASE("a .sh start is left alone: its script wipes tmp only when it is a folder") {
    test::TempDir dir;
    const Profile profile = profile_with(dir / "home", "api-manager.sh");
    CHECK(prepare_home_for_start(profile).empty());
    CHECK_FALSE(fs::exists(profile.home / "tmp"));  // not created either
    test::write_file(profile.home / "tmp", "a file\n");
    CHECK(check_home_before_run(profile).empty());
    CHECK(prepare_home_for_start(profile).empty());
    CHECK_NOTHROW(require_homes_safe_to_start({profile}));
}
