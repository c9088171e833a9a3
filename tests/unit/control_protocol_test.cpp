#include <doctest/doctest.h>

#include "control_protocol.hpp"

using namespace carbon;

TEST_CASE("a well-formed request parses") {
    const auto request = parse_control_request(
        R"({"v":2,"id":7,"cmd":"logs","names":["apim-1"],"lines":20,"follow":true})");
    CHECK(request.command == "logs");
    CHECK(request.names == std::vector<std::string>{"apim-1"});
    CHECK(request.lines == 20);
    CHECK(request.follow);
    CHECK(request.id == 7);
}

TEST_CASE("bad requests get stable error codes") {
    const auto code_of = [](const std::string& line) {
        try {
            parse_control_request(line);
        } catch (const ProtocolError& e) {
            return e.code();
        }
        return std::string("accepted");
    };
    CHECK(code_of("not json") == "bad-request");
    CHECK(code_of("[1]") == "bad-request");
    CHECK(code_of(R"({"cmd":"status"})") == "bad-version");
    CHECK(code_of(R"({"v":3,"cmd":"status"})") == "bad-version");
    CHECK(code_of(R"({"v":2})") == "bad-request");
    CHECK(code_of(R"({"v":2,"cmd":"stauts"})") == "unknown-command");
    CHECK(code_of(R"({"v":2,"cmd":"stop","names":"a"})") == "bad-request");
    CHECK(code_of(R"({"v":2,"cmd":"logs","lines":-1})") == "bad-request");
    CHECK(code_of(R"({"v":2,"cmd":"status"})") == "accepted");
}

TEST_CASE("responses carry the version and the request id") {
    CHECK(control_response(3, {{"x", 1}}).dump() == R"({"id":3,"ok":true,"result":{"x":1},"v":2})");
    CHECK(control_error(nullptr, "unknown-instance", "no")["error"]["code"] == "unknown-instance");
    CHECK(control_event("state", {{"name", "a"}})["event"] == "state");
}

TEST_CASE("a request of another protocol version is refused, naming both versions") {
    try {
        parse_control_request(R"({"v":1,"cmd":"status"})");
        FAIL("accepted a version 1 request");
    } catch (const ProtocolError& e) {
        CHECK(e.code() == "bad-version");
        CHECK(std::string(e.what()).find("version 2, the client version 1") != std::string::npos);
    }
}

TEST_CASE("a reply of another protocol version is a clear error for the CLI") {
    CHECK_NOTHROW(check_reply_version(control_response(1, {})));
    try {
        check_reply_version({{"v", 1}, {"id", 1}, {"ok", true}, {"result", {}}});
        FAIL("accepted a version 1 reply");
    } catch (const ProtocolError& e) {
        CHECK(std::string(e.what()).find("version 1, this CLI version 2") != std::string::npos);
        CHECK(std::string(e.what()).find("restart the launcher") != std::string::npos);
    }
    CHECK_THROWS_AS(check_reply_version(nlohmann::json::array()), ProtocolError);
}

TEST_CASE("a page request carries the cursor, and the server reads cursor and limit") {
    const auto first = control_page_request("status", {}, "");
    CHECK_FALSE(first.contains("cursor"));
    const auto next = control_page_request("watch", {"a"}, "apim-7");
    CHECK(next["cursor"] == "apim-7");
    const auto request = parse_control_request(next.dump());
    CHECK(request.command == "watch");
    CHECK(request.cursor == "apim-7");
    const auto limited = parse_control_request(R"({"v":2,"cmd":"status","limit":10})");
    CHECK(limited.limit == 10);
    CHECK(limited.cursor.empty());
    CHECK_THROWS_AS(parse_control_request(R"({"v":2,"cmd":"status","limit":0})"), ProtocolError);
    CHECK_THROWS_AS(parse_control_request(R"({"v":2,"cmd":"status","cursor":7})"), ProtocolError);
}

TEST_CASE("status pages add up to one document") {
    nlohmann::json whole;
    auto next = append_status_page(whole,
                                   {{"instances", {{{"name", "a"}}, {{"name", "b"}}}},
                                    {"launcher", {{"pid", 1}}},
                                    {"cursor", "b"}},
                                   "");
    REQUIRE(next);
    CHECK(*next == "b");
    next = append_status_page(
        whole, {{"instances", {{{"name", "c"}}}}, {"launcher", {{"pid", 1}, {"uptime_s", 2}}}},
        "b");
    CHECK_FALSE(next);
    CHECK(whole["instances"].size() == 3);
    CHECK(whole["instances"][2]["name"] == "c");
    CHECK(whole["launcher"]["uptime_s"] == 2);  // the newest
    CHECK_FALSE(whole.contains("cursor"));      // the user sees one document, not pages
}

TEST_CASE("a page whose cursor does not move on is refused, so paging always ends") {
    nlohmann::json whole;
    const nlohmann::json same = {{"instances", {{{"name", "b"}}}}, {"cursor", "b"}};
    CHECK_THROWS_AS(append_status_page(whole, same, "b"), ProtocolError);
    CHECK_THROWS_AS(append_status_page(whole, same, "c"), ProtocolError);
    const nlohmann::json empty = {{"instances", nlohmann::json::array()}, {"cursor", "z"}};
    CHECK_THROWS_AS(append_status_page(whole, empty, ""), ProtocolError);
    CHECK_THROWS_AS(append_status_page(whole, {{"launcher", {}}}, ""), ProtocolError);
}

TEST_CASE("every state's word parses back into the enum, and an unknown word is an error") {
    for (const auto state : {ProcessState::Stopped, ProcessState::Starting, ProcessState::Running,
                             ProcessState::Backoff, ProcessState::Stopping, ProcessState::Exited,
                             ProcessState::Fatal}) {
        CHECK(parse_process_state(to_string(state)) == state);
        CHECK(instance_state({{"name", "a"}, {"state", to_string(state)}}) == state);
    }
    CHECK_FALSE(parse_process_state("running"));  // the words are exact
    CHECK_FALSE(parse_process_state("?"));
    CHECK_FALSE(parse_process_state(""));
    try {
        instance_state({{"name", "apim-1"}, {"state", "Hibernating"}});
        FAIL("accepted an unknown state");
    } catch (const ProtocolError& e) {
        CHECK(e.code() == "bad-reply");
        CHECK(std::string(e.what()).find("apim-1 the state \"Hibernating\"") != std::string::npos);
    }
    CHECK_THROWS_AS(instance_state({{"name", "a"}}), ProtocolError);
    CHECK_THROWS_AS(instance_state({{"name", "a"}, {"state", 3}}), ProtocolError);
}

TEST_CASE("a reload's result says whether it was taken and what changed") {
    ReloadResult result;
    result.added = {"new"};
    result.changed = {"apim-1"};
    const auto json = to_json(result);
    CHECK(json["ok"] == true);
    const auto back = reload_result_from_json(json);
    CHECK(back.ok);
    CHECK(back.message == "reloaded");
    CHECK(back.added == std::vector<std::string>{"new"});
    CHECK(back.changed == std::vector<std::string>{"apim-1"});
    CHECK(back.removed.empty());
    const auto refused =
        reload_result_from_json({{"ok", false}, {"message", "the new plan has conflicts"}});
    CHECK_FALSE(refused.ok);
    // Version 1's {"message": "reloaded"} is not read as success by guessing from the text.
    CHECK_THROWS_AS(reload_result_from_json({{"message", "reloaded"}}), ProtocolError);
}
