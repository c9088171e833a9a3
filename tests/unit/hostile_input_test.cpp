// Hostile input (issue 16): bytes that are not UTF-8, deep nesting, duplicate keys, numbers
// beyond range, control characters, files that are not files. Every input here once crashed,
// hung or misled the launcher, or could have.
#include <doctest/doctest.h>

#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <chrono>
#include <future>
#include <thread>

#include "control_protocol.hpp"
#include "diagnostics.hpp"
#include "instance_record.hpp"
#include "json_reader.hpp"
#include "offset_planner.hpp"
#include "offset_state.hpp"
#include "profile.hpp"
#include "systemd_unit.hpp"
#include "test_support.hpp"
#include "text_file.hpp"

using namespace carbon;
using carbon::test::make_home;
using carbon::test::source_catalog;
using carbon::test::TempDir;
using carbon::test::write_file;

namespace {

std::string nested(const std::string& open, const std::string& close, std::size_t depth,
                   const std::string& inner = "1") {
    std::string text;
    text.reserve(depth * (open.size() + close.size()) + inner.size());
    for (std::size_t i = 0; i < depth; ++i) {
        text += open;
    }
    text += inner;
    for (std::size_t i = 0; i < depth; ++i) {
        text += close;
    }
    return text;
}

/// What parse_bounded_json refuses `text` with (message and pointer), "" when it accepts it.
std::pair<std::string, std::string> refusal(const std::string& text) {
    try {
        parse_bounded_json(text, true);
    } catch (const JsonInputError& e) {
        return {e.what(), e.pointer()};
    }
    return {"", ""};
}

std::string code_of(const std::string& line) {
    try {
        parse_control_request(line);
    } catch (const ProtocolError& e) {
        CHECK(is_valid_utf8(e.what()));
        return e.code();
    }
    return "accepted";
}

}  // namespace

TEST_CASE("JSON nesting is bounded at parse time, whatever the depth") {
    CHECK(refusal(nested("[", "]", kMaxJsonDepth)).first.empty());
    CHECK(refusal(nested("{\"a\":", "}", kMaxJsonDepth)).first.empty());
    const auto [message, pointer] = refusal(nested("[", "]", kMaxJsonDepth + 1));
    CHECK(message.find("nested more than 64 levels") != std::string::npos);
    CHECK(pointer.rfind("/0/0/0", 0) == 0);
    // The issue's reproduction: 100 000 levels, objects and arrays, never recursed into.
    CHECK_FALSE(refusal(nested("[", "]", 100000)).first.empty());
    CHECK_FALSE(refusal(nested("{\"x\":", "}", 100000)).first.empty());
    CHECK_FALSE(refusal(nested("[", "", 100000, "")).first.empty());  // unterminated, too
    CHECK(refusal(R"({"env":{"A":)" + nested("[", "]", 100) + "}}").second.rfind("/env/A/0/0", 0) ==
          0);
}

TEST_CASE("a key repeated within one object is refused and named") {
    const auto [message, pointer] = refusal(R"({"ports":{"x":{"base":1,"base":2}}})");
    CHECK(message.find("\"base\" appears twice") != std::string::npos);
    CHECK(pointer == "/ports/x/base");
    CHECK(refusal(R"({"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]})").first.empty());
    CHECK(refusal(R"([{"a":1},{"b":1,"b":2}])").second == "/1/b");
    CHECK(refusal(R"({"a/b~":1,"a/b~":2})").second == "/a~1b~0");
}

TEST_CASE("numbers beyond a double or beyond long long are reported, not wrapped") {
    const auto [message, pointer] = refusal(R"({"x":[1,2],"offset":1e309})");
    CHECK(message.find("1e309") != std::string::npos);
    CHECK(pointer == "/offset");
    CHECK(refusal("[0, -1e400]").second == "/1");
    const auto big = nlohmann::json::parse("9223372036854775808");  // 2^63
    CHECK_FALSE(integer_within(big, 0, 65535));
    CHECK_FALSE(integer_within(big, std::numeric_limits<long long>::min(),
                               std::numeric_limits<long long>::max()));
    CHECK(integer_within(nlohmann::json::parse("9223372036854775807"), 0,
                         std::numeric_limits<long long>::max()) ==
          std::numeric_limits<long long>::max());
    CHECK(integer_within(nlohmann::json(-5), -10, 0) == -5);
    CHECK_FALSE(integer_within(nlohmann::json(-5), 0, 10));
    CHECK_FALSE(integer_within(nlohmann::json(1.0), 0, 10));
    CHECK_FALSE(integer_within(nlohmann::json(3U), -10, -1));
}

TEST_CASE("UTF-8: well-formed text passes, each ill-formed sequence becomes one U+FFFD") {
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK(is_valid_utf8("plain ascii"));
    CHECK(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
    CHECK_FALSE(is_valid_utf8("caf\xE9"));           // Latin-1
    CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // a surrogate
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
    CHECK(to_valid_utf8("caf\xE9 cr\xE8me") == "caf" + fffd + " cr" + fffd + "me");
    CHECK(to_valid_utf8("\xE2\x82"
                        "x") == fffd + "x");  // one maximal subpart
    CHECK(to_valid_utf8("\xFF\xFE") == fffd + fffd);
    CHECK(to_valid_utf8("ok \xE2\x82\xAC") == "ok \xE2\x82\xAC");
    for (int byte = 0; byte < 256; ++byte) {
        CHECK(is_valid_utf8(to_valid_utf8(std::string(3, static_cast<char>(byte)))));
    }
}

TEST_CASE("base64 round-trips every byte and refuses what is not base64") {
    std::string all;
    for (int byte = 0; byte < 256; ++byte) {
        all += static_cast<char>(byte);
    }
    for (std::size_t length = 0; length <= all.size(); length += 1 + length / 8) {
        CHECK(base64_decode(base64_encode(all.substr(0, length))) == all.substr(0, length));
    }
    CHECK(base64_encode("caf\xE9") == "Y2Fm6Q==");
    CHECK(base64_decode("Y2Fm6Q==") == std::string("caf\xE9"));
    CHECK_FALSE(base64_decode("Y2Fm6Q="));
    CHECK_FALSE(base64_decode("Y2=m6Q=="));
    CHECK_FALSE(base64_decode("Y2Fm\n6Q=="));
}

TEST_CASE("a control request that is not UTF-8, too deep or out of range gets an error") {
    CHECK(code_of("\xFF") == "bad-request");  // the issue's printf '\xff\n'
    CHECK(code_of("{\"v\":2,\"cmd\":\"st\xFF\"}") == "bad-request");
    CHECK(code_of("{\"v\":2,\"cmd\":\"status\",\"id\":\"\xC3\"}") == "bad-request");
    CHECK(code_of(R"({"v":2,"cmd":"status","id":)" + nested("[", "]", 100000) + "}") ==
          "bad-request");
    CHECK(code_of(R"({"v":2,"cmd":"status","cmd":"stop"})") == "bad-request");
    CHECK(code_of(R"({"v":2,"cmd":"status","id":1e309})") == "bad-request");
    CHECK(code_of(R"({"v":4294967297,"cmd":"status"})") == "bad-version");
    CHECK(code_of(R"({"v":2,"cmd":"logs","lines":9223372036854775808})") == "bad-request");
    CHECK(code_of(R"({"v":2,"cmd":"status","id":)" + nested("[", "]", 60) + "}") == "accepted");
}

TEST_CASE("a reply or event never fails to serialize, and output bytes arrive exactly") {
    const std::string latin1 = "caf\xE9 cr\xE8me\n";
    nlohmann::json error = control_error(nullptr, "bad-request", "last read: '\xFF'");
    CHECK_NOTHROW(serialize_control_message(error));
    CHECK(is_valid_utf8(serialize_control_message(error)));

    nlohmann::json body = {{"name", "si"}, {"data", latin1}};
    encode_output_data(body);
    CHECK(body["data"] == "caf\xEF\xBF\xBD cr\xEF\xBF\xBDme\n");
    CHECK(body.contains("data_base64"));
    const std::string line = serialize_control_message(control_event("log", body));
    const auto received = nlohmann::json::parse(line);  // what a client reads
    CHECK(decode_output_data(received) == latin1);

    nlohmann::json utf8 = {{"data", "caf\xC3\xA9\n"}};
    encode_output_data(utf8);
    CHECK_FALSE(utf8.contains("data_base64"));  // text that is UTF-8 travels as it is
    CHECK(decode_output_data(utf8) == "caf\xC3\xA9\n");
    nlohmann::json no_data = {{"name", "x"}};
    encode_output_data(no_data);
    CHECK(decode_output_data(no_data).empty());
}

namespace {

/// The diagnostics of one profile in a directory with valid homes of API-M at APIM.
std::vector<Diagnostic> profile_diagnostics(const std::string& text_with_apim) {
    TempDir dir;
    make_home(dir / "apim", "api-manager");
    std::string text = text_with_apim;
    const std::string home = "\"" + (dir / "apim").generic_string() + "\"";
    for (auto at = text.find("\"APIM\""); at != std::string::npos; at = text.find("\"APIM\"")) {
        text.replace(at, 6, home);
    }
    write_file(dir / "profiles/p.json", text);
    try {
        load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
    } catch (const ConfigError& e) {
        return e.diagnostics();
    }
    return {};
}

bool reports(const std::vector<Diagnostic>& diagnostics, const std::string& pointer,
             const std::string& phrase) {
    for (const auto& d : diagnostics) {
        if (d.pointer == pointer && d.message.find(phrase) != std::string::npos &&
            d.file.filename() == "p.json") {
            return true;
        }
    }
    for (const auto& d : diagnostics) {
        MESSAGE(d.to_string());
    }
    return false;
}

constexpr const char* kHead = R"({"name":"a","runtime":"api-manager","home":"APIM",)";

}  // namespace

TEST_CASE("profile: 100 000 levels of nesting is a clear error, not a crash") {
    const std::string deep =
        std::string(kHead) + R"("env":{"A":)" + nested("{\"x\":", "}", 100000) + "}}";
    std::string pointer = "/env/A";
    for (int level = 0; level < 62; ++level) {
        pointer += "/x";  // root, env and 62 objects make 64 levels
    }
    CHECK(reports(profile_diagnostics(deep), pointer, "nested more than 64 levels"));
    const std::string deep_args =
        std::string(kHead) + R"("args":)" + nested("[", "]", 100000) + "}";
    pointer = "/args";
    for (int level = 0; level < 63; ++level) {
        pointer += "/0";
    }
    CHECK(reports(profile_diagnostics(deep_args), pointer, "nested more than 64 levels"));
}

TEST_CASE("profile: numbers, duplicate keys and scripts outside the home") {
    CHECK(reports(profile_diagnostics(std::string(kHead) + R"("offset":1e309})"), "/offset",
                  "1e309"));
    CHECK(reports(profile_diagnostics(std::string(kHead) + R"("offset":9223372036854775808})"),
                  "/offset", "9223372036854775808 is out of range"));
    CHECK(reports(
        profile_diagnostics(std::string(kHead) + R"("restart":{"delay_ms":18446744073709551615}})"),
        "/restart/delay_ms", "18446744073709551615 is out of range"));
    CHECK(reports(profile_diagnostics(std::string(kHead) + R"("offset":1,"offset":2})"), "/offset",
                  "\"offset\" appears twice"));
    CHECK(reports(profile_diagnostics(std::string(kHead) + R"("env":{"A":"1","A":"2"}})"), "/env/A",
                  "appears twice"));
    CHECK(reports(profile_diagnostics(std::string(kHead) + R"("script":"/bin/sh"})"), "/script",
                  "is not inside the home"));
    CHECK(reports(profile_diagnostics(std::string(kHead) + R"("script":"../../bin/sh"})"),
                  "/script", "is not inside the home"));
    CHECK(reports(profile_diagnostics(std::string(kHead) + R"("script":"bin/../../x/sh"})"),
                  "/script", "is not inside the home"));
    CHECK(profile_diagnostics(std::string(kHead) + R"("script":"bin/./api-manager.sh"})").empty());
}

TEST_CASE("profile: control characters are refused where they could inject") {
    const auto check = [](const std::string& fields, const std::string& pointer,
                          const std::string& phrase) {
        CAPTURE(fields);
        CHECK(reports(profile_diagnostics(std::string(kHead) + fields + "}"), pointer, phrase));
    };
    check(R"("env":{"JAVA_OPTS":"a\u0000b"})", "/env/JAVA_OPTS", "a NUL byte (U+0000)");
    check(R"("env":{"JAVA_OPTS":"-Xmx1g\nExecStartPre=/bin/touch /tmp/pwned"})", "/env/JAVA_OPTS",
          "a line break (U+000A)");
    check(R"("env":{"X":"a\rb"})", "/env/X", "a carriage return");
    check(R"("env":{"X":"a\u001bb"})", "/env/X", "U+001B");
    check(R"("env":{"BAD NAME":"x"})", "/env/BAD NAME", "not a portable environment variable");
    check(R"("env":{"1X":"x"})", "/env/1X", "not a portable environment variable");
    check(R"("env":{"A/B":"x"})", "/env/A~1B", "not a portable environment variable");
    check(R"("args":["-Dx=1","-Dy=\u0001"])", "/args/1", "U+0001");
    check(R"("args":["-Dx=a\nb"])", "/args/0", "a line break");
    check(R"("user":"wso2\nExecStartPre=/bin/sh")", "/user", "a line break");
    check(R"("java_home":"/usr\n")", "/java_home", "a line break");
    check(R"("script":"bin/x\u0000.sh")", "/script", "a NUL byte");
    // Allowed: $ % " \ and spaces in env values (they are escaped when exported).
    CHECK(profile_diagnostics(std::string(kHead) +
                              R"("env":{"JAVA_OPTS":"-Da=$HOME -Db=%h \"q\" \\"}})")
              .empty());
}

TEST_CASE("profile: a control character in the home path is refused") {
    TempDir dir;
    write_file(dir / "profiles/p.json",
               R"({"name":"a","runtime":"api-manager","home":"/opt/x\ny"})");
    try {
        load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
        FAIL("accepted");
    } catch (const ConfigError& e) {
        CHECK(reports(e.diagnostics(), "/home", "a line break"));
    }
}

TEST_CASE("state files: range, depth, duplicates and types are ConfigErrors") {
    const auto fails = [](const std::string& text) {
        CAPTURE(text);
        CHECK_THROWS_AS(parse_sticky_offsets(text, "offsets.json"), ConfigError);
    };
    fails(R"({"version":1,"offsets":{"a":1e309}})");
    fails(R"({"version":1,"offsets":{"a":9223372036854775808}})");
    fails(R"({"version":1,"offsets":{"a":18446744073709551615}})");
    fails(R"({"version":"1","offsets":{}})");
    fails(R"({"version":1,"offsets":{"a":1,"a":2}})");
    fails(R"({"version":1,"offsets":{"a":)" + nested("[", "]", 100000) + "}}");
    CHECK_THROWS_WITH_AS(parse_sticky_offsets(R"({"version":1,"offsets":{"a":1e309}})", "o.json"),
                         doctest::Contains("delete the file"), ConfigError);

    const auto record_fails = [](const std::string& text, const std::string& phrase) {
        CAPTURE(text);
        CHECK_THROWS_WITH_AS(parse_instance_record(text, "x.json"),
                             doctest::Contains(phrase.c_str()), ConfigError);
    };
    const std::string rest = R"("start_time":1,"offset":0,"home":"/h")";
    // A pid that wrapped would be signalled: 2^32 + 1 must not become pid 1.
    record_fails(R"({"name":"a","pid":4294967297,"pgid":5,)" + rest + "}", "\"pid\"");
    record_fails(R"({"name":"a","pid":5,"pgid":-1,)" + rest + "}", "\"pgid\"");
    record_fails(R"({"name":"a","pid":5,"pgid":0,)" + rest + "}", "\"pgid\"");
    record_fails(R"({"name":"a","pid":5,"pgid":5,"start_time":-1,"offset":0,"home":"/h"})",
                 "start_time");
    record_fails(R"({"name":"a","pid":5,"pid":6,"pgid":5,)" + rest + "}", "appears twice");
    record_fails(R"({"name":)" + nested("[", "]", 100000) + "}", "nested");
    record_fails("[1]", "expected an object");
    record_fails("\xFF", "damaged instance record");
    const auto good = parse_instance_record(R"({"name":"a","pid":5,"pgid":5,)" + rest + "}", "x");
    CHECK(good.pid == 5);
    CHECK(good.launcher_pid == 0);
}

#ifndef _WIN32
TEST_CASE("a FIFO or a directory is refused at once, never waited on") {
    TempDir dir;
    const auto fifo = dir / "offsets.json";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // Should the read block, a writer that comes and goes after 5 s ends it: the test fails
    // instead of hanging.
    auto result = std::async(std::launch::async, [&] {
        std::string error;
        const auto text = read_text_file(fifo, error);
        return std::make_pair(text.has_value(), error);
    });
    if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
        if (fd >= 0) {
            ::close(fd);
        }
        FAIL("read_text_file blocked on a FIFO");
    }
    const auto [read, error] = result.get();
    CHECK_FALSE(read);
    CHECK(error.find("is a FIFO, expected a regular file") != std::string::npos);

    std::string dir_error;
    CHECK_FALSE(read_text_file(dir.path(), dir_error));
    CHECK(dir_error == "is a directory, expected a file");
    std::string missing_error;
    CHECK_FALSE(read_text_file(dir / "none", missing_error));
    CHECK(missing_error == "file not found");
    write_file(dir / "ok.json", std::string("a\0b", 3));
    std::string ok_error;
    CHECK(read_text_file(dir / "ok.json", ok_error) == std::string("a\0b", 3));
}
#endif

namespace {

std::string unit_for(const Profile& profile, const std::vector<std::string>& environment) {
    InstancePlan plan;
    plan.profile = &profile;
    plan.offset = 2;
    plan.placed = true;
    return render_instance_unit(plan, environment);
}

/// The unit's lines that start with `prefix`.
std::vector<std::string> lines_of(const std::string& unit, const std::string& prefix) {
    std::vector<std::string> found;
    std::size_t start = 0;
    while (start < unit.size()) {
        const auto end = unit.find('\n', start);
        const std::string line = unit.substr(start, end - start);
        if (line.rfind(prefix, 0) == 0) {
            found.push_back(line);
        }
        start = end == std::string::npos ? unit.size() : end + 1;
    }
    return found;
}

}  // namespace

TEST_CASE("systemd units escape $, %, quotes and backslashes, and no value adds a line") {
    Profile profile;
    profile.name = "apim-1";
    profile.runtime = "api-manager";
    profile.source = "/etc/carbon/profiles/evil\nExecStartPre=/bin/sh.json";
    profile.home = "/opt/wso2 100%";
    profile.script = "/opt/wso2 100%/bin/api-manager.sh";
    profile.offset_method = OffsetMethod::Argument;
    profile.args = {"-Dhome=$HOME", "-Dp=%h", "-Dq=\"x\"\\", "-Dnl=a\nExecStartPre=/bin/sh"};
    profile.user = "wso2%";
    const std::string unit =
        unit_for(profile, {"JAVA_OPTS=-Da=$HOME %i \"q\" \\", "EVIL=x\nExecStartPre=/bin/sh"});
    CAPTURE(unit);
    CHECK(lines_of(unit, "ExecStartPre").empty());  // no value can start a directive
    CHECK(lines_of(unit, "ExecStart=") ==
          std::vector<std::string>{
              R"(ExecStart="/opt/wso2 100%%/bin/api-manager.sh" "-DportOffset=2" "-Dhome=$$HOME" )"
              R"("-Dp=%%h" "-Dq=\"x\"\\" "-Dnl=a\x0aExecStartPre=/bin/sh")"});
    CHECK(lines_of(unit, "Environment=") ==
          std::vector<std::string>{R"(Environment="JAVA_OPTS=-Da=$HOME %%i \"q\" \\")",
                                   R"(Environment="EVIL=x\x0aExecStartPre=/bin/sh")"});
    CHECK(lines_of(unit, "WorkingDirectory=") ==
          std::vector<std::string>{"WorkingDirectory=/opt/wso2 100%%"});
    CHECK(lines_of(unit, "User=") == std::vector<std::string>{"User=wso2%%"});
    CHECK(lines_of(unit, "# Generated").size() == 1);

    profile.home = "/opt/x\ny";
    CHECK_THROWS_AS(unit_for(profile, {}), std::invalid_argument);
}

// WSO2's .sh scripts exit 0 whatever the JVM did: an exported unit with systemd's on-failure
// would leave a crashed JVM down, so their units restart whenever the script ends on its own.
TEST_CASE("an exported unit of a masked WSO2 script restarts always; a custom script on-failure") {
    Profile profile;
    profile.name = "apim-1";
    profile.runtime = "api-manager";
    profile.table = test::source_catalog().find("api-manager");
    profile.home = "/opt/apim";
    profile.script = "/opt/apim/bin/api-manager.sh";
    profile.offset_method = OffsetMethod::Argument;
    CHECK(lines_of(unit_for(profile, {}), "Restart=") ==
          std::vector<std::string>{"Restart=always"});
    profile.script = "/opt/apim/bin/my-wrapper.sh";
    CHECK(lines_of(unit_for(profile, {}), "Restart=") ==
          std::vector<std::string>{"Restart=on-failure"});
    profile.restart.policy = RestartPolicy::Never;
    CHECK(lines_of(unit_for(profile, {}), "Restart=") == std::vector<std::string>{"Restart=no"});
}
