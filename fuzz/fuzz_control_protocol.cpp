// Any bytes as a control request line, and as instance output in a reply: the parser refuses
// with ProtocolError or returns a request; every reply and event serializes (never throws) to
// valid UTF-8 that a client parses back, and output bytes come back exactly. The same bytes as
// a reply the CLI reads (version check, status pages, states, reload results): refused with
// ProtocolError, never another exception, and paging never accepts a cursor that stands still.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "control_protocol.hpp"
#include "json_reader.hpp"

namespace {

void require(bool condition) {
    if (!condition) {
        std::abort();
    }
}

/// What the session sends: the line must be UTF-8 and parse back.
nlohmann::json round_trip(const nlohmann::json& message) {
    const std::string line = carbon::serialize_control_message(message);
    require(carbon::is_valid_utf8(line));
    require(line.find('\n') == std::string::npos);  // one message per line
    return carbon::parse_bounded_json(line, false);
}

/// The CLI's readers of a reply: only ProtocolError may come out of them.
void read_as_reply(const std::string& bytes) {
    nlohmann::json reply;
    try {
        reply = carbon::parse_bounded_json(bytes, false);
    } catch (const carbon::JsonInputError&) {
        return;
    }
    const auto refused = [](auto&& read) {
        try {
            read();
        } catch (const carbon::ProtocolError&) {
        }
    };
    refused([&] { carbon::check_reply_version(reply); });
    refused([&] { carbon::reload_result_from_json(reply); });
    refused([&] { carbon::instance_state(reply); });
    refused([&] {
        nlohmann::json whole;
        const std::string previous = "m";
        const auto next = carbon::append_status_page(whole, reply, previous);
        require(!next || *next > previous);
        require(!whole.contains("cursor"));
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    nlohmann::json id;
    try {
        const carbon::ControlRequest request = carbon::parse_control_request(bytes);
        id = request.id;
        require(request.lines >= 0 && request.lines <= 100000);
        round_trip(carbon::control_response(id, {{"accepted", request.names}}));
    } catch (const carbon::ProtocolError& e) {
        const auto reply = round_trip(carbon::control_error(id, e.code(), e.what()));
        require(reply["error"]["code"] == e.code());
    }
    // The same bytes as an instance's output, in a logs reply and in a log event.
    nlohmann::json body = {{"name", "fuzz"}, {"data", bytes}};
    carbon::encode_output_data(body);
    const auto reply = round_trip(carbon::control_response(id, body));
    require(carbon::decode_output_data(reply["result"]) == bytes);
    const auto event = round_trip(carbon::control_event("log", body));
    require(carbon::decode_output_data(event) == bytes);
    // The fallback of the serializer itself: raw bytes anywhere in a message.
    round_trip(carbon::control_error(nullptr, bytes, bytes));
    require(carbon::is_valid_utf8(carbon::to_valid_utf8(bytes)));
    require(carbon::is_valid_utf8(bytes) == (carbon::to_valid_utf8(bytes) == bytes));
    read_as_reply(bytes);
    return 0;
}
