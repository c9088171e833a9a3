// Windows has no cgroups: every instance runs in a Job Object of its own (spawn_windows.cpp),
// which nothing started inside can leave. These are the stubs the shared code links against.
#include <spdlog/spdlog.h>

#include <system_error>

#include "supervision/cgroup.hpp"

namespace carbon {

InstanceCgroup::InstanceCgroup(std::filesystem::path directory)
    : directory_(std::move(directory)) {}

InstanceCgroup::~InstanceCgroup() = default;

void InstanceCgroup::open_procs_for_child() {
    throw std::system_error(std::make_error_code(std::errc::function_not_supported),
                            "cgroups exist on Linux only");
}

std::vector<int> InstanceCgroup::members() const {
    return {};
}

bool InstanceCgroup::populated() const {
    return false;
}

bool InstanceCgroup::contains(int) const {
    return false;
}

int InstanceCgroup::signal_members(int, int) const {
    return 0;
}

std::string InstanceCgroup::kill() const {
    return "";
}

Containment::Containment(ContainmentMode mode, std::string reason)
    : mode_(mode), reason_(std::move(reason)) {}

std::shared_ptr<Containment> Containment::set_up(const std::filesystem::path&) {
    return std::make_shared<Containment>(ContainmentMode::JobObject, "");
}

Containment::~Containment() = default;

void Containment::remove_empty_subtree() const {}

std::string Containment::describe() const {
    return "one job object per instance";
}

nlohmann::json Containment::status() const {
    return {{"mode", to_string(mode_)},
            {"cgroup", nullptr},
            {"controllers", nlohmann::json::array()},
            {"reason", reason_}};
}

std::shared_ptr<InstanceCgroup> Containment::create(const std::string& name,
                                                    const ResourceLimits& limits) {
    if (!limits.empty() && limits_warned_.insert(name).second) {
        spdlog::warn("{}: \"limits\" are not applied: they are cgroup limits, and Windows has none",
                     name);
    }
    return nullptr;
}

void Containment::apply_limits(const InstanceCgroup&, const std::string&, const ResourceLimits&) {}

bool Containment::may_hold(const std::filesystem::path&, const std::string&) const {
    return false;
}

std::vector<std::filesystem::path> Containment::populated_instance_cgroups() const {
    return {};
}

}  // namespace carbon
