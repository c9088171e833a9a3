#include "planning/config_edits.hpp"

#include "config_patch.hpp"
#include "diagnostics.hpp"
#include "planning/config_writer.hpp"
#include "split_wiring.hpp"

namespace carbon {

std::vector<ConfigFileEdit> compute_config_edits(const Plan& plan,
                                                 const std::vector<const InstancePlan*>& instances,
                                                 bool force) {
    std::vector<ConfigFileEdit> edits;
    std::vector<Diagnostic> problems;
    for (const InstancePlan* instance : instances) {
        const auto offset_file = patched_config_file(*instance->profile);
        const auto wiring_file = wired_config_file(plan, *instance);
        const auto& file = offset_file.empty() ? wiring_file : offset_file;
        if (file.empty()) {
            continue;
        }
        try {
            std::string before = read_config_for_patch(file);
            std::string after =
                patch_instance_config(*instance->profile, instance->offset, before, force);
            if (!wiring_file.empty()) {  // API-M: the same deployment.toml as the offset's
                after = patch_wiring(plan, *instance, after, file);
            }
            edits.push_back({instance, file, std::move(before), std::move(after)});
        } catch (const ConfigError& e) {
            problems.insert(problems.end(), e.diagnostics().begin(), e.diagnostics().end());
        }
    }
    if (!problems.empty()) {
        throw ConfigError(problems);
    }
    return edits;
}

std::size_t write_config_edits(const std::vector<ConfigFileEdit>& edits) {
    std::size_t written = 0;
    for (const auto& edit : edits) {
        if (edit.changes()) {
            write_patched_config(edit.file, edit.before, edit.after);
            ++written;
        }
    }
    return written;
}

}  // namespace carbon
