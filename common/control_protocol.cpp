#include "control_protocol.hpp"

#include <algorithm>

#include "diagnostics.hpp"

namespace carbon {
namespace {

const std::vector<std::string> kCommands = {"status", "start", "stop", "restart",
                                            "reload", "logs",  "watch"};

}  // namespace

ControlRequest parse_control_request(const std::string& line) {
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
        throw ProtocolError("bad-request", std::string("not JSON: ") + e.what());
    }
    if (!json.is_object()) {
        throw ProtocolError("bad-request", "a request is a JSON object");
    }
    ControlRequest request;
    request.id = json.value("id", nlohmann::json());
    if (!json.contains("v") || !json["v"].is_number_integer() ||
        json["v"].get<int>() != kControlProtocolVersion) {
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
        if (!json["lines"].is_number_integer() || json["lines"].get<long long>() < 0 ||
            json["lines"].get<long long>() > 100000) {
            throw ProtocolError("bad-request", "\"lines\" must be an integer from 0 to 100000");
        }
        request.lines = json["lines"].get<int>();
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

}  // namespace carbon
