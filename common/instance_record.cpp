#include "instance_record.hpp"

#include <limits>
#include <nlohmann/json.hpp>

#include "diagnostics.hpp"
#include "json_reader.hpp"

namespace carbon {

std::string render_instance_record(const InstanceRecord& r) {
    return nlohmann::json{{"name", r.name},
                          {"pid", r.pid},
                          {"pgid", r.pgid},
                          {"start_time", r.start_time},
                          {"offset", r.offset},
                          {"home", r.home.string()},
                          {"launcher_pid", r.launcher_pid},
                          {"cgroup", r.cgroup.string()}}
               .dump(2) +
           "\n";
}

InstanceRecord parse_instance_record(const std::string& text, const std::filesystem::path& source) {
    const auto damaged = [&source](const std::string& pointer, const std::string& what) {
        return ConfigError(source, pointer,
                           "damaged instance record (" + what +
                               "); it is written by carbon-launcher: delete it if no instance "
                               "of an earlier launcher is still running");
    };
    nlohmann::json json;
    try {
        json = parse_bounded_json(text, /*comments=*/false);
    } catch (const JsonInputError& e) {
        throw damaged(e.pointer(), e.what());
    }
    if (!json.is_object()) {
        throw damaged("", "expected an object, found " + json_type_name(json));
    }
    // A pid or group read wrongly would be signalled: every number is checked, never wrapped.
    const auto number = [&](const char* key, long long min, long long max) {
        if (!json.contains(key)) {
            throw damaged(std::string("/") + key, std::string("\"") + key + "\" is missing");
        }
        const auto value = integer_within(json[key], min, max);
        if (!value) {
            throw damaged(std::string("/") + key,
                          std::string("\"") + key + "\" is not an integer from " +
                              std::to_string(min) + " to " + std::to_string(max));
        }
        return *value;
    };
    const auto text_of = [&](const char* key) {
        if (!json.contains(key) || !json[key].is_string()) {
            throw damaged(std::string("/") + key, std::string("\"") + key + "\" is not a string");
        }
        return json[key].get<std::string>();
    };
    constexpr long long kMaxPid = std::numeric_limits<int>::max();
    InstanceRecord r;
    r.name = text_of("name");
    r.pid = static_cast<int>(number("pid", 1, kMaxPid));
    r.pgid = static_cast<int>(number("pgid", 1, kMaxPid));
    if (!json.contains("start_time") || !json["start_time"].is_number_unsigned()) {
        throw damaged("/start_time", "\"start_time\" is not an integer >= 0");
    }
    r.start_time = json["start_time"].get<std::uint64_t>();
    r.offset = static_cast<int>(number("offset", 0, 65535));
    r.home = text_of("home");
    r.launcher_pid =
        json.contains("launcher_pid") ? static_cast<int>(number("launcher_pid", 0, kMaxPid)) : 0;
    r.cgroup = json.contains("cgroup") ? text_of("cgroup") : "";
    return r;
}

}  // namespace carbon
