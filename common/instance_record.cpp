#include "instance_record.hpp"

#include <nlohmann/json.hpp>

#include "diagnostics.hpp"

namespace carbon {

std::string render_instance_record(const InstanceRecord& r) {
    return nlohmann::json{{"name", r.name},
                          {"pid", r.pid},
                          {"pgid", r.pgid},
                          {"start_time", r.start_time},
                          {"offset", r.offset},
                          {"home", r.home.string()},
                          {"launcher_pid", r.launcher_pid}}
               .dump(2) +
           "\n";
}

InstanceRecord parse_instance_record(const std::string& text, const std::filesystem::path& source) {
    try {
        const auto json = nlohmann::json::parse(text);
        InstanceRecord r;
        r.name = json.at("name").get<std::string>();
        r.pid = json.at("pid").get<int>();
        r.pgid = json.at("pgid").get<int>();
        r.start_time = json.at("start_time").get<std::uint64_t>();
        r.offset = json.at("offset").get<int>();
        r.home = json.at("home").get<std::string>();
        r.launcher_pid = json.value("launcher_pid", 0);
        return r;
    } catch (const nlohmann::json::exception& e) {
        throw ConfigError(source, "",
                          std::string("damaged instance record (") + e.what() +
                              "); it is written by carbon-launcher: delete it if no "
                              "instance of an earlier launcher is still running");
    }
}

}  // namespace carbon
