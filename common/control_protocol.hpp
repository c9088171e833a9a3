#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace carbon {

/// The control protocol: one JSON object per line each way, over a Unix socket (a named pipe on
/// Windows). Requests:  {"v": 1, "id": ANY, "cmd": "status"|"start"|"stop"|"restart"|"reload"|
/// "logs"|"watch", "names": [..], "lines": N, "follow": BOOL}. Responses: {"v": 1, "id": ANY,
/// "ok": true, "result": {..}} or {"v": 1, "id": ANY, "ok": false, "error": {"code": C,
/// "message": M}}. After "watch" (and "logs" with follow) the server also sends events:
/// {"v": 1, "event": "state", "instance": {..}} and {"v": 1, "event": "log", "name": N, "data": D}.
inline constexpr int kControlProtocolVersion = 1;

/// The longest request line the server reads; longer ones are refused and the client dropped.
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;

struct ControlRequest {
    nlohmann::json id;  // echoed back
    std::string command;
    std::vector<std::string> names;
    int lines = 50;
    bool follow = false;
};

/// A request the server answers with an error; `code` is stable, `message` is for people.
class ProtocolError : public std::runtime_error {
  public:
    ProtocolError(std::string code, const std::string& message)
        : std::runtime_error(message), code_(std::move(code)) {}
    const std::string& code() const { return code_; }

  private:
    std::string code_;
};

/// Parses and checks one request line; throws ProtocolError ("bad-request", "bad-version",
/// "unknown-command").
ControlRequest parse_control_request(const std::string& line);

nlohmann::json control_request_json(const std::string& command,
                                    const std::vector<std::string>& names, int lines = 50,
                                    bool follow = false);
nlohmann::json control_response(const nlohmann::json& id, const nlohmann::json& result);
nlohmann::json control_error(const nlohmann::json& id, const std::string& code,
                             const std::string& message);
nlohmann::json control_event(const std::string& event, nlohmann::json body);

/// One message as a protocol line (without its newline). Never throws for text that is not
/// UTF-8: any ill-formed sequence is sent as U+FFFD.
std::string serialize_control_message(const nlohmann::json& message);

/// Instance output is bytes, not text. In a "logs" reply or a "log" event, "data" is always
/// valid UTF-8: the output itself when it is, otherwise the output with every ill-formed
/// sequence replaced by U+FFFD, and then "data_base64" carries the exact bytes as well.
/// encode_output_data applies this to a body whose "data" holds the raw bytes.
void encode_output_data(nlohmann::json& body);
/// The exact output bytes of such a body: "data_base64" when present, else "data".
std::string decode_output_data(const nlohmann::json& body);

}  // namespace carbon
