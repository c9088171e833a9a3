#include <doctest/doctest.h>

#include "control_protocol.hpp"

using namespace carbon;

TEST_CASE("a well-formed request parses") {
    const auto request = parse_control_request(
        R"({"v":1,"id":7,"cmd":"logs","names":["apim-1"],"lines":20,"follow":true})");
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
    CHECK(code_of(R"({"v":2,"cmd":"status"})") == "bad-version");
    CHECK(code_of(R"({"v":1})") == "bad-request");
    CHECK(code_of(R"({"v":1,"cmd":"stauts"})") == "unknown-command");
    CHECK(code_of(R"({"v":1,"cmd":"stop","names":"a"})") == "bad-request");
    CHECK(code_of(R"({"v":1,"cmd":"logs","lines":-1})") == "bad-request");
    CHECK(code_of(R"({"v":1,"cmd":"status"})") == "accepted");
}

TEST_CASE("responses carry the version and the request id") {
    CHECK(control_response(3, {{"x", 1}}).dump() == R"({"id":3,"ok":true,"result":{"x":1},"v":1})");
    CHECK(control_error(nullptr, "unknown-instance", "no")["error"]["code"] == "unknown-instance");
    CHECK(control_event("state", {{"name", "a"}})["event"] == "state");
}
