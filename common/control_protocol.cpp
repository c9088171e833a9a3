#include "control_protocol.hpp"

#include <algorithm>

#include "diagnostics.hpp"
#include "json_reader.hpp"

namespace carbon {
namespace {

const std::vector<std::string> kCommands = {"status", "start", "stop",  "restart",
                                            "reload", "logs",  "watch", "dump"};

void check_request_version(const nlohmann::json& json) {
    if (json.contains("v") &&
        integer_within(json["v"], kControlProtocolVersion, kControlProtocolVersion)) {
        return;
    }
    const auto theirs = json.contains("v") ? integer_within(json["v"], 0, 1000) : std::nullopt;
    throw ProtocolError(
        "bad-version",
        "this launcher speaks control protocol version " + std::to_string(kControlProtocolVersion) +
            (theirs ? ", the client version " + std::to_string(*theirs) : std::string()) +
            ": use the carbon-launcher CLI installed with the running launcher (after an upgrade, "
            "restart the launcher)");
}

std::string parse_command(const nlohmann::json& json) {
    if (!json.contains("cmd") || !json["cmd"].is_string()) {
        throw ProtocolError("bad-request", "\"cmd\" (a string) is missing");
    }
    std::string command = json["cmd"].get<std::string>();
    if (std::find(kCommands.begin(), kCommands.end(), command) == kCommands.end()) {
        const std::string suggestion = closest_match(command, kCommands);
        throw ProtocolError(
            "unknown-command",
            "unknown command \"" + command + "\"" +
                (suggestion.empty() ? "" : "; did you mean \"" + suggestion + "\"?"));
    }
    return command;
}

std::vector<std::string> parse_names(const nlohmann::json& json) {
    std::vector<std::string> names;
    if (!json.contains("names")) {
        return names;
    }
    if (!json["names"].is_array()) {
        throw ProtocolError("bad-request", "\"names\" must be an array of instance names");
    }
    for (const auto& name : json["names"]) {
        if (!name.is_string()) {
            throw ProtocolError("bad-request", "\"names\" must hold strings");
        }
        names.push_back(name.get<std::string>());
    }
    return names;
}

/// "lines", "follow", "cursor" and "limit", each optional.
void parse_options(const nlohmann::json& json, ControlRequest& request) {
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
    if (json.contains("cursor") && !json["cursor"].is_null()) {
        if (!json["cursor"].is_string()) {
            throw ProtocolError("bad-request",
                                "\"cursor\" must be the \"cursor\" of the previous page");
        }
        request.cursor = json["cursor"].get<std::string>();
    }
    if (json.contains("limit")) {
        const auto limit = integer_within(json["limit"], 1, kMaxStatusPageLimit);
        if (!limit) {
            throw ProtocolError("bad-request", "\"limit\" must be an integer from 1 to " +
                                                   std::to_string(kMaxStatusPageLimit));
        }
        request.limit = static_cast<int>(*limit);
    }
}

[[noreturn]] void bad_reply(const std::string& message) {
    throw ProtocolError("bad-reply", "the launcher's reply " + message +
                                         "; use the carbon-launcher CLI installed with it");
}

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
    check_request_version(json);
    request.command = parse_command(json);
    request.names = parse_names(json);
    parse_options(json, request);
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

nlohmann::json control_page_request(const std::string& command,
                                    const std::vector<std::string>& names,
                                    const std::string& cursor) {
    nlohmann::json request = control_request_json(command, names);
    if (!cursor.empty()) {
        request["cursor"] = cursor;
    }
    return request;
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

void check_reply_version(const nlohmann::json& message) {
    const auto version = message.is_object() && message.contains("v")
                             ? integer_within(message["v"], 0, 1000)
                             : std::nullopt;
    if (version == kControlProtocolVersion) {
        return;
    }
    throw ProtocolError(
        "bad-version",
        "the launcher speaks control protocol " +
            (version ? "version " + std::to_string(*version) : std::string("of another version")) +
            ", this CLI version " + std::to_string(kControlProtocolVersion) +
            ": use the carbon-launcher CLI installed with the running launcher (after an upgrade, "
            "restart the launcher)");
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

std::optional<std::string> append_status_page(nlohmann::json& whole, nlohmann::json page,
                                              const std::string& previous) {
    if (!page.is_object() || !page.contains("instances") || !page["instances"].is_array()) {
        bad_reply("to status holds no \"instances\" list");
    }
    std::optional<std::string> next;
    if (const auto cursor = page.find("cursor"); cursor != page.end() && !cursor->is_null()) {
        if (!cursor->is_string() || page["instances"].empty() ||
            (!previous.empty() && cursor->get_ref<const std::string&>() <= previous)) {
            bad_reply("to status has a cursor that does not move on");
        }
        next = cursor->get<std::string>();
        page.erase("cursor");
    }
    if (whole.is_null()) {
        whole = std::move(page);
        return next;
    }
    auto& instances = whole["instances"];
    for (auto& instance : page["instances"]) {
        instances.push_back(std::move(instance));
    }
    if (page.contains("launcher")) {
        whole["launcher"] = std::move(page["launcher"]);
    }
    return next;
}

std::optional<ProcessState> parse_process_state(std::string_view text) {
    // Every value of the enum up to the first that to_string does not name: a state added to
    // ProcessState (and to to_string) is understood here without a second list to keep up.
    for (int value = 0;; ++value) {
        const auto state = static_cast<ProcessState>(value);
        const std::string word = to_string(state);
        if (word == "?") {
            return std::nullopt;
        }
        if (word == text) {
            return state;
        }
    }
}

ProcessState instance_state(const nlohmann::json& instance) {
    const auto state = instance.is_object() ? instance.find("state") : instance.end();
    if (!instance.is_object() || state == instance.end() || !state->is_string()) {
        bad_reply("names an instance without a \"state\"");
    }
    const std::string& word = state->get_ref<const std::string&>();
    if (const auto parsed = parse_process_state(word)) {
        return *parsed;
    }
    const auto name = instance.find("name");
    bad_reply("gives " +
              (name != instance.end() && name->is_string() ? name->get<std::string>()
                                                           : std::string("an instance")) +
              " the state \"" + to_valid_utf8(word) + "\", which this CLI does not know");
}

nlohmann::json to_json(const ReloadResult& result) {
    return {{"ok", result.ok},
            {"message", result.message},
            {"added", result.added},
            {"changed", result.changed},
            {"removed", result.removed}};
}

ReloadResult reload_result_from_json(const nlohmann::json& result) {
    if (!result.is_object() || !result.contains("ok") || !result["ok"].is_boolean() ||
        !result.contains("message") || !result["message"].is_string()) {
        bad_reply("to reload lacks \"ok\" or \"message\"");
    }
    ReloadResult reload;
    reload.ok = result["ok"].get<bool>();
    reload.message = result["message"].get<std::string>();
    const auto names = [&](const char* key) {
        std::vector<std::string> list;
        if (result.contains(key) && result[key].is_array()) {
            for (const auto& name : result[key]) {
                if (name.is_string()) {
                    list.push_back(name.get<std::string>());
                }
            }
        }
        return list;
    };
    reload.added = names("added");
    reload.changed = names("changed");
    reload.removed = names("removed");
    return reload;
}

}  // namespace carbon
