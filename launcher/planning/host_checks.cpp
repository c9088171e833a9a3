#include "planning/host_checks.hpp"

#include "exit_codes.hpp"
#include "os/environment.hpp"
#include "os/host_facts.hpp"

namespace carbon {
namespace {

/// The instances a start of the launcher starts: their JVMs are what the host must hold now.
/// (`start NAME` of one with "autostart": false is not checked again; `check NAME` does.)
std::vector<const InstancePlan*> autostarted(const Plan& plan) {
    std::vector<const InstancePlan*> started;
    for (const auto& instance : plan.instances) {
        if (instance.profile->autostart) {
            started.push_back(&instance);
        }
    }
    return started;
}

}  // namespace

CheckReport check_instances(const std::vector<const InstancePlan*>& instances,
                            const std::filesystem::path& state_dir) {
    const auto environment = current_environment();
    std::vector<InstanceFacts> facts;
    for (const auto* instance : instances) {
        facts.push_back(read_instance_facts(*instance, environment));
    }
    return run_host_checks(facts, read_host_facts(state_dir));
}

void require_host_checks(const PlanningSession& session, const std::filesystem::path& state_dir,
                         const std::function<void(const std::string&)>& warn) {
    const auto report = check_instances(autostarted(session.plan), state_dir);
    std::string failures;
    for (const auto& finding : report.findings) {
        if (finding.level == CheckLevel::Warn) {
            warn("check: " + describe_finding(finding));
        } else if (finding.level == CheckLevel::Fail) {
            failures += "\n  " + describe_finding(finding);
        }
    }
    if (!failures.empty()) {
        throw ExitError(kExitUnavailable,
                        "the host checks failed; nothing was written or started (see "
                        "carbon-launcher check):" +
                            failures);
    }
}

}  // namespace carbon
