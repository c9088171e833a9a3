#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config_inspect.hpp"
#include "offset_planner.hpp"
#include "split_wiring.hpp"

namespace carbon {

/// A plan together with what each instance's config files say (same order as plan.instances).
struct PlanReport {
    const Plan& plan;
    std::vector<ConfigReview> reviews;
    Platform platform = host_platform();
    /// The peer settings of split API-M packs (same order; empty rows for the others).
    std::vector<WiringReview> wiring;
};

PlanReport review_plan(const Plan& plan);

/// The URLs an operator opens for an instance at its planned offset.
std::vector<std::pair<std::string, std::string>> instance_urls(const InstancePlan& instance);

/// Stable machine-readable form, schema "carbon-launcher/plan/v1" (documented in README.md).
nlohmann::json plan_to_json(const PlanReport& report);

/// The form a person reads in a terminal.
std::string plan_to_text(const PlanReport& report);

std::string to_string(ConflictKind kind);

}  // namespace carbon
