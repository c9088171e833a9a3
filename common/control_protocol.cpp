#include "control_protocol.hpp"

#include <algorithm>

#include "diagnostics.hpp"
#include "json_reader.hpp"

namespace carbon {
namespace {

const std::vector<std::string> kCommands = {"status", "start", "stop", "restart",
                                            "reload", "logs",  "watch"};

}  // namespace

ControlRequest parse_control_request(const std::string& line) {
    nlohmann::json json;
    try {
        json = parse_bounded_json(line, /*comments=*/false);
    } catch (const JsonInputError& e) {
        throw ProtocolError("bad-request", "not a valid request: " + to_valid_utf8(e.what()) +
                                               (e.pointer().empty() ? "" : " at " + e.pointer()));
    }
    if (!json.is_object()) {
        throw ProtocolError("bad-request", "a request is a JSON object");
    }
    ControlRequest request;
    request.id = json.value("id", nlohmann::json());
    if (!json.contains("v") ||
        !integer_within(json["v"], kControlProtocolVersion, kControlProtocolVersion)) {
        throw ProtocolError("bad-version", "this launcher speaks protocol version " +
                                               std::to_string(kControlProtocolVersion) +
                                               "; use a carbon-launcher CLI of the same version");
    }
    if (!json.contains("cmd") || !json["cmd"].is_string()) {
        throw ProtocolError("bad-request", "\"cmd\" (a string) is missing");
    }
    request.command = json["cmd"].get<std::string>();
    if (std::find(kCommands.begin(), kCommands.end(), request.command) == kCommands.end()) {
        const std::string suggestion = closest_match(request.command, kCommands);
        throw ProtocolError(
            "unknown-command",
            "unknown command \"" + request.command + "\"" +
                (suggestion.empty() ? "" : "; did you mean \"" + suggestion + "\"?"));
    }
    if (json.contains("names")) {
        if (!json["names"].is_array()) {
            throw ProtocolError("bad-request", "\"names\" must be an array of instance names");
        }
        for (const auto& name : json["names"]) {
            if (!name.is_string()) {
                throw ProtocolError("bad-request", "\"names\" must hold strings");
            }
            request.names.push_back(name.get<std::string>());
        }
    }
    if (json.contains("lines")) {
        const auto lines = integer_within(json["lines"], 0, 100000);
        if (!lines) {
            throw ProtocolError("bad-request", "\"lines\" must be an integer from 0 to 100000");
        }
        request.lines = static_cast<int>(*lines);
    }
    if (json.contains("follow")) {
        if (!json["follow"].is_boolean()) {
            throw ProtocolError("bad-request", "\"follow\" must be true or false");
        }
        request.follow = json["follow"].get<bool>();
    }
    return request;
}

nlohmann::json control_request_json(const std::string& command,
                                    const std::vector<std::string>& names, int lines, bool follow) {
    return {{"v", kControlProtocolVersion},
            {"id", 1},
            {"cmd", command},
            {"names", names},
            {"lines", lines},
            {"follow", follow}};
}

nlohmann::json control_response(const nlohmann::json& id, const nlohmann::json& result) {
    return {{"v", kControlProtocolVersion}, {"id", id}, {"ok", true}, {"result", result}};
}

nlohmann::json control_error(const nlohmann::json& id, const std::string& code,
                             const std::string& message) {
    return {{"v", kControlProtocolVersion},
            {"id", id},
            {"ok", false},
            {"error", {{"code", code}, {"message", message}}}};
}

nlohmann::json control_event(const std::string& event, nlohmann::json body) {
    body["v"] = kControlProtocolVersion;
    body["event"] = event;
    return body;
}

std::string serialize_control_message(const nlohmann::json& message) {
    return message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void encode_output_data(nlohmann::json& body) {
    const auto data = body.find("data");
    if (data == body.end() || !data->is_string()) {
        return;
    }
    const auto& bytes = data->get_ref<const std::string&>();
    if (is_valid_utf8(bytes)) {
        return;
    }
    body["data_base64"] = base64_encode(bytes);
    *data = to_valid_utf8(bytes);
}

std::string decode_output_data(const nlohmann::json& body) {
    const auto exact = body.find("data_base64");
    if (exact != body.end() && exact->is_string()) {
        if (auto bytes = base64_decode(exact->get_ref<const std::string&>())) {
            return std::move(*bytes);
        }
    }
    const auto data = body.find("data");
    return data != body.end() && data->is_string() ? data->get<std::string>() : std::string();
}

}  // namespace carbon
