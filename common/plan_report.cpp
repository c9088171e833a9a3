#include "plan_report.hpp"

#include <sstream>

#include "launch_spec.hpp"

namespace carbon {

std::string to_string(ConflictKind kind) {
    switch (kind) {
        case ConflictKind::Instances:
            return "instances";
        case ConflictKind::FixedPort:
            return "fixed-port";
        case ConflictKind::Host:
            return "host";
        case ConflictKind::NoOffset:
            return "no-offset";
    }
    return "?";
}

PlanReport review_plan(const Plan& plan) {
    PlanReport report{plan, {}};
    for (const auto& instance : plan.instances) {
        report.reviews.push_back(review_config(*instance.profile, instance.offset));
    }
    return report;
}

std::vector<std::pair<std::string, std::string>> instance_urls(const InstancePlan& instance) {
    std::vector<std::pair<std::string, std::string>> urls;
    const Profile& profile = *instance.profile;
    if (profile.table == nullptr) {
        return urls;
    }
    for (const auto& url : profile.table->urls) {
        for (const auto& port : profile.ports) {
            if (port.key == url.port_key) {
                urls.emplace_back(url.name, url.scheme + "://" + profile.host + ":" +
                                                std::to_string(port.effective(instance.offset)) +
                                                url.path);
            }
        }
    }
    return urls;
}

static nlohmann::json edit_to_json(const ConfigEdit& edit) {
    return {{"file", edit.file.string()},
            {"setting", edit.setting},
            {"current", edit.current ? nlohmann::json(*edit.current) : nlohmann::json(nullptr)},
            {"wanted", edit.wanted},
            {"needed", edit.needed()}};
}

static nlohmann::json instance_to_json(const InstancePlan& instance, const ConfigReview& review,
                                       Platform platform) {
    const Profile& profile = *instance.profile;
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& planned : instance.ports) {
        ports.push_back({{"key", planned.spec->key},
                         {"purpose", planned.spec->purpose},
                         {"base", planned.spec->base},
                         {"port", planned.port},
                         {"follows_offset", planned.spec->follows_offset},
                         {"open_by_default", planned.spec->default_open},
                         {"origin", planned.spec->origin}});
    }
    nlohmann::json urls = nlohmann::json::array();
    for (const auto& [name, url] : instance_urls(instance)) {
        urls.push_back({{"name", name}, {"url", url}});
    }
    nlohmann::json edits = nlohmann::json::array();
    for (const auto& edit : review.edits) {
        edits.push_back(edit_to_json(edit));
    }
    return {{"name", profile.name},
            {"runtime", profile.runtime},
            {"profile", profile.source.string()},
            {"home", profile.home.string()},
            {"offset", instance.placed ? nlohmann::json(instance.offset) : nlohmann::json(nullptr)},
            {"offset_source", to_string(instance.source)},
            {"note", instance.note},
            {"ports", ports},
            {"urls", urls},
            {"argv", launch_argv(profile, instance.offset, platform)},
            {"config_edits", edits},
            {"warnings", review.warnings}};
}

nlohmann::json plan_to_json(const PlanReport& report) {
    nlohmann::json instances = nlohmann::json::array();
    for (std::size_t i = 0; i < report.plan.instances.size(); ++i) {
        instances.push_back(
            instance_to_json(report.plan.instances[i], report.reviews.at(i), report.platform));
    }
    nlohmann::json conflicts = nlohmann::json::array();
    for (const auto& conflict : report.plan.conflicts) {
        nlohmann::json item = {{"kind", to_string(conflict.kind)},
                               {"instance", conflict.instance},
                               {"port", conflict.port},
                               {"purpose", conflict.purpose},
                               {"other_instance", conflict.other_instance},
                               {"holder", nullptr},
                               {"message", conflict.message}};
        if (conflict.holder) {
            item["holder"] = {{"pid", conflict.holder->pid ? nlohmann::json(*conflict.holder->pid)
                                                           : nlohmann::json(nullptr)},
                              {"program", conflict.holder->program}};
        }
        conflicts.push_back(item);
    }
    return {{"schema", "carbon-launcher/plan/v1"},
            {"ok", report.plan.ok()},
            {"instances", instances},
            {"conflicts", conflicts}};
}

static void write_instance_text(std::ostream& out, const InstancePlan& instance,
                                const ConfigReview& review, Platform platform) {
    const Profile& profile = *instance.profile;
    out << profile.name << "  " << profile.runtime << "  ";
    if (!instance.placed) {
        out << "NO OFFSET FITS (see conflicts)\n";
        return;
    }
    out << "offset " << instance.offset << " (" << to_string(instance.source) << ")\n";
    out << "  home    " << profile.home.string() << "\n";
    out << "  run     " << shell_quote_join(launch_argv(profile, instance.offset, platform))
        << "\n";
    if (!instance.note.empty()) {
        out << "  note    " << instance.note << "\n";
    }
    out << "  ports\n";
    for (const auto& planned : instance.ports) {
        out << "    " << planned.port << "  " << planned.spec->purpose;
        if (!planned.spec->follows_offset) {
            out << "  [fixed: the offset does not move it]";
        }
        if (!planned.spec->default_open) {
            out << "  [reserved, off by default]";
        }
        out << "\n";
    }
    for (const auto& [name, url] : instance_urls(instance)) {
        out << "  url     " << name << ": " << url << "\n";
    }
    for (const auto& edit : review.edits) {
        out << "  edit    " << edit.file.string() << ": " << edit.setting << " "
            << edit.current.value_or("(absent)") << " -> " << edit.wanted
            << (edit.needed() ? "" : " (already set)") << "\n";
    }
    for (const auto& warning : review.warnings) {
        out << "  warning " << warning << "\n";
    }
}

std::string plan_to_text(const PlanReport& report) {
    std::ostringstream out;
    const Plan& plan = report.plan;
    out << "plan: " << plan.instances.size() << " instance"
        << (plan.instances.size() == 1 ? "" : "s") << ", " << plan.conflicts.size() << " conflict"
        << (plan.conflicts.size() == 1 ? "" : "s") << "\n";
    for (std::size_t i = 0; i < plan.instances.size(); ++i) {
        out << "\n";
        write_instance_text(out, plan.instances[i], report.reviews.at(i), report.platform);
    }
    if (!plan.conflicts.empty()) {
        out << "\nconflicts\n";
        for (const auto& conflict : plan.conflicts) {
            out << "  " << conflict.message << "\n";
        }
    }
    return out.str();
}

}  // namespace carbon
