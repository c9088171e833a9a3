#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "process_state.hpp"

namespace carbon {

/// The control protocol: one JSON object per line each way, over a Unix socket (a named pipe on
/// Windows). Requests:  {"v": 2, "id": ANY, "cmd": "status"|"start"|"stop"|"restart"|"reload"|
/// "logs"|"watch"|"dump", "names": [..], "lines": N, "follow": BOOL, "cursor": C, "limit": N}.
/// Responses: {"v": 2, "id": ANY, "ok": true, "result": {..}} or {"v": 2, "id": ANY, "ok": false,
/// "error": {"code": C, "message": M}}. After "watch" (and "logs" with follow) the server also
/// sends events: {"v": 2, "event": "state", "instance": {..}} and {"v": 2, "event": "log",
/// "name": N, "data": D}.
///
/// Version 2 (version 1 had neither): "status" and "watch" answer one page of instances with a
/// "cursor" while more follow, and "reload" answers {"ok", "message", "added", "changed",
/// "removed"}. A client and a server of different versions refuse each other with "bad-version"
/// rather than guess: a version 1 client would take the first page for the whole list.
inline constexpr int kControlProtocolVersion = 2;

/// The longest request line the server reads; longer ones are refused and the client dropped.
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;

/// A status or watch page holds instances until it reaches this many bytes (the instance that
/// crosses it included): far below a client's 4 MiB output bound however large the instances
/// (one holds at most ~10 KiB of last output), and few round trips for thousands of instances.
inline constexpr std::size_t kStatusPageBytes = 256 * 1024;
/// The largest "limit" (instances per page) a request may ask for.
inline constexpr int kMaxStatusPageLimit = 100000;

struct ControlRequest {
    nlohmann::json id;  // echoed back
    std::string command;
    std::vector<std::string> names;
    int lines = 50;
    bool follow = false;
    /// status/watch: the page after this one ("" = the first). A page's cursor is the name of
    /// its last instance (pages go in name order); clients only pass it back.
    std::string cursor;
    int limit = 0;  // status/watch: at most this many instances per page (0 = by size only)
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
/// A status or watch request for the page after `cursor` ("" = the first).
nlohmann::json control_page_request(const std::string& command,
                                    const std::vector<std::string>& names,
                                    const std::string& cursor);
nlohmann::json control_response(const nlohmann::json& id, const nlohmann::json& result);
nlohmann::json control_error(const nlohmann::json& id, const std::string& code,
                             const std::string& message);
nlohmann::json control_event(const std::string& event, nlohmann::json body);

/// The client's check of any message from the server: throws ProtocolError("bad-version") that
/// says what to do when the launcher speaks another version of the protocol.
void check_reply_version(const nlohmann::json& message);

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

/// Adds one status/watch page to `whole` (the first page becomes it, later pages add their
/// instances and the newest "launcher"); returns the cursor of the next page, or nullopt after
/// the last. Throws ProtocolError("bad-reply") for a page that is not one, or whose cursor does
/// not move past `previous` (so a client's paging loop always ends).
std::optional<std::string> append_status_page(nlohmann::json& whole, nlohmann::json page,
                                              const std::string& previous);

/// A state as the protocol spells it (to_string's words); nullopt for a word this version does
/// not know.
std::optional<ProcessState> parse_process_state(std::string_view text);
/// The "state" of an instance in a reply or event; throws ProtocolError("bad-reply") naming it.
ProcessState instance_state(const nlohmann::json& instance);

/// What "reload" did. `ok`: the new profiles were taken; otherwise `message` says why the
/// running configuration stays. The lists name the instances it started, restarted and stopped.
struct ReloadResult {
    bool ok = true;
    std::string message = "reloaded";
    std::vector<std::string> added;
    std::vector<std::string> changed;
    std::vector<std::string> removed;

    /// Not taken: the running configuration stays, for this reason.
    static ReloadResult refused(std::string why) {
        ReloadResult result;
        result.ok = false;
        result.message = std::move(why);
        return result;
    }
};
nlohmann::json to_json(const ReloadResult& result);
/// Throws ProtocolError("bad-reply") when "ok" or "message" is missing.
ReloadResult reload_result_from_json(const nlohmann::json& result);

}  // namespace carbon
