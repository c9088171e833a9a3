#include <doctest/doctest.h>

#include <algorithm>

#include "diagnostics.hpp"
#include "profile.hpp"
#include "test_support.hpp"

using namespace carbon;
using carbon::test::make_home;
using carbon::test::source_catalog;
using carbon::test::TempDir;
using carbon::test::write_file;

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
    return text;
}

/// Loads the profiles of `dir` and returns the diagnostics they produced.
std::vector<Diagnostic> diagnostics_of_dir(const TempDir& dir) {
    try {
        load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
    } catch (const ConfigError& e) {
        return e.diagnostics();
    }
    return {};
}

/// Loads a directory holding one profile and returns the diagnostics it produced.
std::vector<Diagnostic> diagnostics_of(const TempDir& dir, const std::string& text) {
    write_file(dir / "profiles/p.json", text);
    return diagnostics_of_dir(dir);
}

struct BadProfile {
    const char* what;
    const char* text;     // APIM and SI stand for valid homes of those runtimes
    const char* pointer;  // the field the error must name
    const char* problem;  // a phrase the message must contain
};

const BadProfile kBadProfiles[] = {
    {"syntax error", "{\"name\": \"a\",, }", "", "line 1, column"},
    {"not an object", "[1, 2]", "/", "expected a JSON object"},
    {"unknown field with suggestion",
     R"({"name":"a","runtime":"api-manager","home":"APIM","ofset":1})", "/ofset",
     "did you mean \"offset\""},
    {"missing name", R"({"runtime":"api-manager","home":"APIM"})", "/name",
     "required field is missing"},
    {"name not a string", R"({"name":7,"runtime":"api-manager","home":"APIM"})", "/name",
     "expected a string"},
    {"name with capitals", R"({"name":"APIM_1","runtime":"api-manager","home":"APIM"})", "/name",
     "not a valid name"},
    {"name starting with dash", R"({"name":"-a","runtime":"api-manager","home":"APIM"})", "/name",
     "not a valid name"},
    {"missing runtime", R"({"name":"a","home":"APIM"})", "/runtime", "use one of: api-manager"},
    {"unknown runtime", R"({"name":"a","runtime":"api-manger","home":"APIM"})", "/runtime",
     "did you mean \"api-manager\""},
    {"missing home", R"({"name":"a","runtime":"api-manager"})", "/home",
     "required field is missing"},
    {"home does not exist", R"({"name":"a","runtime":"api-manager","home":"/nonexistent/wso2am"})",
     "/home", "does not exist"},
    {"home of another runtime", R"({"name":"a","runtime":"api-manager","home":"SI"})", "/home",
     "is not a home of api-manager"},
    {"negative offset", R"({"name":"a","runtime":"api-manager","home":"APIM","offset":-1})",
     "/offset", "out of range"},
    {"offset word", R"({"name":"a","runtime":"api-manager","home":"APIM","offset":"next"})",
     "/offset", "use \"auto\" or an integer"},
    {"offset float", R"({"name":"a","runtime":"api-manager","home":"APIM","offset":1.5})",
     "/offset", "found a number"},
    {"offset past 65535", R"({"name":"a","runtime":"api-manager","home":"APIM","offset":60000})",
     "/offset", "past 65535"},
    {"argument method on SI",
     R"({"name":"a","runtime":"streaming-integrator","home":"SI","offset_method":"argument"})",
     "/offset_method", "reads its offset only from conf/server/deployment.yaml"},
    {"unknown offset method",
     R"({"name":"a","runtime":"api-manager","home":"APIM","offset_method":"env"})",
     "/offset_method", "not a method"},
    {"args not an array", R"({"name":"a","runtime":"api-manager","home":"APIM","args":"-Dx=1"})",
     "/args", "expected an array"},
    {"arg with a space",
     R"({"name":"a","runtime":"api-manager","home":"APIM","args":["-Dname=a b"]})", "/args/0",
     "contains whitespace"},
    {"arg that sets the offset",
     R"({"name":"a","runtime":"api-manager","home":"APIM","args":["-DportOffset=3"]})", "/args/0",
     "set \"offset\" instead"},
    {"env value not a string",
     R"({"name":"a","runtime":"api-manager","home":"APIM","env":{"JAVA_OPTS":1}})",
     "/env/JAVA_OPTS", "expected a string"},
    {"env sets CARBON_HOME",
     R"({"name":"a","runtime":"api-manager","home":"APIM","env":{"CARBON_HOME":"/x"}})",
     "/env/CARBON_HOME", "set by the launcher"},
    {"restart policy unknown",
     R"({"name":"a","runtime":"api-manager","home":"APIM","restart":{"policy":"sometimes"}})",
     "/restart/policy", "not a restart policy"},
    {"restart cap below delay",
     R"({"name":"a","runtime":"api-manager","home":"APIM","restart":{"delay_ms":5000,"max_delay_ms":100}})",
     "/restart/max_delay_ms", "below the first delay"},
    {"restart unknown key",
     R"({"name":"a","runtime":"api-manager","home":"APIM","restart":{"retries":3}})",
     "/restart/retries", "unknown field"},
    {"ready timeout zero",
     R"({"name":"a","runtime":"api-manager","home":"APIM","ready":{"timeout_s":0}})",
     "/ready/timeout_s", "out of range"},
    {"ready mode unknown",
     R"({"name":"a","runtime":"api-manager","home":"APIM","ready":{"mode":"ping"}})", "/ready/mode",
     "not a readiness mode"},
    {"stop timeout a string",
     R"({"name":"a","runtime":"api-manager","home":"APIM","stop_timeout_s":"60"})",
     "/stop_timeout_s", "expected an integer"},
    {"log files zero",
     R"({"name":"a","runtime":"api-manager","home":"APIM","log":{"max_files":0}})",
     "/log/max_files", "out of range"},
    {"unknown port override",
     R"({"name":"a","runtime":"api-manager","home":"APIM","ports":{"htps-servlet":{"enabled":true}}})",
     "/ports/htps-servlet", "did you mean \"https-servlet\""},
    {"port override out of range",
     R"({"name":"a","runtime":"api-manager","home":"APIM","ports":{"hazelcast":{"base":70000}}})",
     "/ports/hazelcast/base", "out of range"},
    {"java_home missing",
     R"({"name":"a","runtime":"api-manager","home":"APIM","java_home":"/nonexistent/jdk"})",
     "/java_home", "is not a directory"},
    {"script missing",
     R"({"name":"a","runtime":"api-manager","home":"APIM","script":"bin/nope.sh"})", "/script",
     "does not exist"},
    {"after not a list", R"({"name":"a","runtime":"api-manager","home":"APIM","after":"b"})",
     "/after", "expected an array"},
    {"after unknown instance",
     R"({"name":"a","runtime":"api-manager","home":"APIM","after":["apim-tm"]})", "/after/0",
     "no instance named \"apim-tm\""},
    {"after itself", R"({"name":"a","runtime":"api-manager","home":"APIM","after":["a"]})",
     "/after/0", "cannot start after itself"},
    {"advertised urls on SI",
     R"({"name":"a","runtime":"streaming-integrator","home":"SI","update_advertised_urls":true})",
     "/update_advertised_urls", "no advertised URLs"},
};

}  // namespace

TEST_CASE("every bad profile names the file, the field and the problem") {
    CHECK(std::size(kBadProfiles) >= 25);
    for (const auto& bad : kBadProfiles) {
        CAPTURE(bad.what);
        TempDir dir;
        make_home(dir / "apim", "api-manager");
        make_home(dir / "si", "streaming-integrator");
        std::string text =
            replace_all(bad.text, "\"APIM\"", "\"" + (dir / "apim").generic_string() + "\"");
        text = replace_all(text, "\"SI\"", "\"" + (dir / "si").generic_string() + "\"");
        const auto diagnostics = diagnostics_of(dir, text);
        REQUIRE_FALSE(diagnostics.empty());
        bool found = false;
        for (const auto& d : diagnostics) {
            CAPTURE(d.to_string());
            if (d.pointer == bad.pointer && d.message.find(bad.problem) != std::string::npos) {
                found = true;
                CHECK(d.file == dir / "profiles/p.json");
                CHECK(d.to_string().find("p.json: ") != std::string::npos);
            }
        }
        if (!found) {
            for (const auto& d : diagnostics) {
                MESSAGE(d.to_string());
            }
        }
        CHECK(found);
    }
}

TEST_CASE("a valid profile loads with defaults") {
    TempDir dir;
    make_home(dir / "apim", "api-manager");
    write_file(dir / "profiles/apim-1.json",
               "// comments are allowed\n{\"name\": \"apim-1\", \"runtime\": \"api-manager\",\n"
               " /* block */ \"home\": \"" +
                   (dir / "apim").generic_string() + "\"}\n");
    const auto profiles = load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
    REQUIRE(profiles.size() == 1);
    const Profile& p = profiles.front();
    CHECK(p.name == "apim-1");
    CHECK_FALSE(p.offset.has_value());
    CHECK(p.offset_method == OffsetMethod::Argument);
    CHECK(p.script == dir / "apim/bin/api-manager.sh");
    CHECK(p.restart.policy == RestartPolicy::OnFailure);
    CHECK(p.stop_timeout_s == 60);
}

TEST_CASE("a relative home is resolved against the profile's folder") {
    TempDir dir;
    make_home(dir / "packs/si", "streaming-integrator");
    write_file(dir / "profiles/si.json",
               R"({"name":"si","runtime":"streaming-integrator","home":"../packs/si"})");
    const auto profiles = load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
    CHECK(profiles.front().home == (dir / "packs/si").lexically_normal());
    CHECK(profiles.front().offset_method == OffsetMethod::Config);
}

TEST_CASE("with --profiles relative to the working directory, home and java_home are absolute") {
    // The instance runs in its home: a relative home (its script, CARBON_HOME) or JAVA_HOME
    // would not resolve from there.
    TempDir dir;
    make_home(dir / "packs/apim", "api-manager");
    std::filesystem::create_directories(dir / "jdk/bin");
    write_file(dir / "profiles/apim.json",
               R"({"name":"apim","runtime":"api-manager","home":"../packs/apim",)"
               R"("java_home":"../jdk"})");
    const auto previous = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    std::vector<Profile> profiles;
    try {
        profiles = load_profiles("profiles", source_catalog(), Platform::Linux);
    } catch (...) {
        std::filesystem::current_path(previous);
        throw;
    }
    std::filesystem::current_path(previous);
    REQUIRE(profiles.size() == 1);
    CHECK(profiles.front().home.is_absolute());
    CHECK(std::filesystem::equivalent(profiles.front().home, dir / "packs/apim"));
    CHECK(std::filesystem::path(profiles.front().java_home).is_absolute());
    CHECK(std::filesystem::equivalent(profiles.front().java_home, dir / "jdk"));
}

TEST_CASE("all errors of all files are reported in one run") {
    TempDir dir;
    write_file(dir / "profiles/a.json", R"({"name":"A","runtime":"api-manager"})");
    write_file(dir / "profiles/b.json", R"({"name":"b","runtime":"nope","home":"/nonexistent"})");
    try {
        load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
        FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
        CHECK(e.diagnostics().size() >= 4);
    }
}

TEST_CASE("an `after` naming an instance whose profile could not be read says so") {
    TempDir dir;
    make_home(dir / "homes/apim-2", "api-manager");
    write_file(dir / "profiles/apim-1.json", R"({"name":"apim-1",)");  // cut short
    write_file(dir / "profiles/apim-2.json",
               R"({"name":"apim-2","runtime":"api-manager","home":"../homes/apim-2",)"
               R"("after":["apim-1"]})");
    const auto diagnostics = diagnostics_of_dir(dir);
    const auto after = std::find_if(diagnostics.begin(), diagnostics.end(),
                                    [](const Diagnostic& d) { return d.pointer == "/after/0"; });
    REQUIRE(after != diagnostics.end());
    CHECK(after->message.find("fix those first") != std::string::npos);
    // Not "did you mean \"apim-2\"": an instance never starts after itself.
    CHECK(after->message.find("did you mean") == std::string::npos);
}

TEST_CASE("duplicate names are refused, naming both files") {
    TempDir dir;
    make_home(dir / "h1", "api-manager");
    make_home(dir / "h2", "api-manager");
    write_file(dir / "profiles/a.json", R"({"name":"apim","runtime":"api-manager","home":")" +
                                            (dir / "h1").generic_string() + "\"}");
    write_file(dir / "profiles/b.json", R"({"name":"apim","runtime":"api-manager","home":")" +
                                            (dir / "h2").generic_string() + "\"}");
    try {
        load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
        FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
        REQUIRE(e.diagnostics().size() == 1);
        const auto& d = e.diagnostics().front();
        CHECK(d.file == dir / "profiles/b.json");
        CHECK(d.pointer == "/name");
        CHECK(d.message.find("a.json") != std::string::npos);
    }
}

TEST_CASE("two instances sharing a home are refused") {
    TempDir dir;
    make_home(dir / "h", "api-manager");
    write_file(dir / "profiles/a.json", R"({"name":"a","runtime":"api-manager","home":")" +
                                            (dir / "h").generic_string() + "\"}");
    write_file(dir / "profiles/b.json", R"({"name":"b","runtime":"api-manager","home":")" +
                                            (dir / "h").generic_string() + "/.\"}");
    try {
        load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
        FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
        REQUIRE(e.diagnostics().size() == 1);
        CHECK(e.diagnostics().front().pointer == "/home");
        CHECK(e.diagnostics().front().message.find("never share a home") != std::string::npos);
    }
}

TEST_CASE("a cycle in after is refused") {
    TempDir dir;
    make_home(dir / "h1", "api-manager");
    make_home(dir / "h2", "api-manager");
    write_file(dir / "profiles/a.json",
               R"({"name":"a","runtime":"api-manager","after":["b"],"home":")" +
                   (dir / "h1").generic_string() + "\"}");
    write_file(dir / "profiles/b.json",
               R"({"name":"b","runtime":"api-manager","after":["a"],"home":")" +
                   (dir / "h2").generic_string() + "\"}");
    try {
        load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
        FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
        REQUIRE(e.diagnostics().size() == 1);
        CHECK(e.diagnostics().front().message.find("a -> b -> a") != std::string::npos);
    }
}

TEST_CASE("an empty or missing profile directory is a clear error") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(load_profiles(dir / "missing", source_catalog()),
                         doctest::Contains("profile directory not found"), ConfigError);
    std::filesystem::create_directories(dir / "empty");
    CHECK_THROWS_WITH_AS(load_profiles(dir / "empty", source_catalog()),
                         doctest::Contains("no profiles"), ConfigError);
}

TEST_CASE("SI ports come from the instance's own deployment.yaml") {
    TempDir dir;
    make_home(dir / "si", "streaming-integrator");
    std::string yaml = test::read_file(dir / "si/conf/server/deployment.yaml");
    yaml = replace_all(yaml, "port: 7070", "port: 7071");
    write_file(dir / "si/conf/server/deployment.yaml", yaml);
    write_file(dir / "profiles/si.json",
               R"({"name":"si","runtime":"streaming-integrator","home":")" +
                   (dir / "si").generic_string() + "\"}");
    const auto profiles = load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
    bool found = false;
    for (const auto& port : profiles.front().ports) {
        if (port.key == "store-api-http") {
            CHECK(port.base == 7071);
            CHECK(port.origin == "config file");
            found = true;
        }
    }
    CHECK(found);
}

TEST_CASE("a broken deployment.yaml is reported with its line") {
    TempDir dir;
    make_home(dir / "si", "streaming-integrator");
    write_file(dir / "si/conf/server/deployment.yaml", "wso2.carbon:\n  ports: [1,\n");
    const auto diagnostics =
        diagnostics_of(dir, R"({"name":"si","runtime":"streaming-integrator","home":")" +
                                (dir / "si").generic_string() + "\"}");
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics.front().file == dir / "si/conf/server/deployment.yaml");
    CHECK(diagnostics.front().message.find("YAML syntax error at line") != std::string::npos);
}

TEST_CASE("profile port overrides enable and add ports") {
    TempDir dir;
    make_home(dir / "apim", "api-manager");
    write_file(
        dir / "profiles/a.json",
        R"({"name":"a","runtime":"api-manager","home":")" + (dir / "apim").generic_string() +
            R"(","ports":{"hazelcast":{"enabled":true,"base":4001},"custom":{"base":12000,"purpose":"my API"}}})");
    const auto profiles = load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
    int seen = 0;
    for (const auto& port : profiles.front().ports) {
        if (port.key == "hazelcast") {
            CHECK(port.base == 4001);
            CHECK(port.reserved);
            CHECK_FALSE(port.follows_offset);
            ++seen;
        }
        if (port.key == "custom") {
            CHECK(port.base == 12000);
            CHECK(port.follows_offset);
            ++seen;
        }
    }
    CHECK(seen == 2);
}

TEST_CASE("on Windows an argument cmd.exe cannot pass is refused when the profile loads") {
    TempDir dir;
    make_home(dir / "apim", "api-manager");
    write_file(dir / "apim/bin/api-manager.bat", "@echo off\r\n");
    write_file(dir / "profiles/p.json", R"({"name":"a","runtime":"api-manager","home":")" +
                                            (dir / "apim").generic_string() +
                                            R"(","args":["-Dok=1","-Dpath=%PATH%"]})");
    try {
        load_profiles(dir / "profiles", source_catalog(), Platform::Windows);
        FAIL("the profile loaded");
    } catch (const ConfigError& e) {
        REQUIRE(e.diagnostics().size() == 1);
        const auto& d = e.diagnostics().front();
        CHECK(d.file == dir / "profiles/p.json");
        CHECK(d.pointer == "/args/1");
        CHECK(d.message.find("cmd.exe cannot pass") != std::string::npos);
    }
    // The same argument is fine on Linux, where no cmd.exe stands between.
    make_home(dir / "apim", "api-manager");
    CHECK(load_profiles(dir / "profiles", source_catalog(), Platform::Linux).size() == 1);
}
