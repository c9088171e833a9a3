#include "planning/running_instances.hpp"

#include <string>

#include "diagnostics.hpp"
#include "text_file.hpp"

namespace carbon {

std::vector<RecordFile> read_instance_records(const std::filesystem::path& state_dir) {
    std::vector<RecordFile> records;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(state_dir / "instances", ec)) {
        if (entry.path().extension() != ".json") {
            continue;
        }
        std::string error;
        const auto text = read_text_file(entry.path(), error);
        if (!text) {
            continue;
        }
        try {
            records.push_back({entry.path(), parse_instance_record(*text, entry.path())});
        } catch (const ConfigError&) {
            continue;
        }
    }
    return records;
}

}  // namespace carbon
