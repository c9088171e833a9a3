#include "plan_report.hpp"

#include <algorithm>
#include <array>
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
    PlanReport report{plan, {}, host_platform(), {}};
    for (const auto& instance : plan.instances) {
        report.reviews.push_back(review_config(*instance.profile, instance.offset));
        report.wiring.push_back(review_wiring(plan, instance));
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

static nlohmann::json wiring_value_to_json(const WiringValue& value) {
    return std::visit([](const auto& typed) { return nlohmann::json(typed); }, value);
}

static nlohmann::json peers_to_json(const Profile& profile) {
    if (!profile.role || *profile.role == SplitRole::AllInOne || !profile.connect.wire) {
        return nullptr;
    }
    const SplitPeers& peers = profile.peers;
    const auto name_or_null = [](const std::string& name) {
        return name.empty() ? nlohmann::json(nullptr) : nlohmann::json(name);
    };
    return {{"control_plane", name_or_null(peers.control_plane)},
            {"key_manager", name_or_null(peers.key_manager)},
            {"traffic_managers", peers.traffic_managers},
            {"gateways", peers.gateways}};
}

static nlohmann::json wiring_to_json(const WiringReview& review) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : review.rows) {
        const WiringTarget& target = row.target;
        nlohmann::json current = nullptr;
        if (row.current) {
            current = row.current->value ? wiring_value_to_json(*row.current->value)
                                         : nlohmann::json(row.current->text);
        }
        rows.push_back(
            {{"file", review.file.string()},
             {"setting", target.setting()},
             {"table", target.spec->table},
             {"element", target.place.array_of_tables ? nlohmann::json(target.place.element)
                                                      : nlohmann::json(nullptr)},
             {"key", target.spec->key},
             {"peer", to_string(target.spec->peer)},
             {"peers", target.peers},
             {"current", current},
             {"wanted", wiring_value_to_json(target.wanted)},
             {"action", to_string(row.action)},
             {"needed", row.action == WiringAction::Set},
             {"note", row.note}});
    }
    return rows;
}

static nlohmann::json instance_to_json(const InstancePlan& instance, const ConfigReview& review,
                                       const WiringReview& wiring, Platform platform) {
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
    nlohmann::json warnings = review.warnings;
    for (const auto& warning : wiring.warnings) {
        warnings.push_back(warning);
    }
    return {
        {"name", profile.name},
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
        {"role", profile.role ? nlohmann::json(to_string(*profile.role)) : nlohmann::json(nullptr)},
        {"peers", peers_to_json(profile)},
        {"wiring", wiring_to_json(wiring)},
        {"warnings", warnings}};
}

nlohmann::json plan_to_json(const PlanReport& report) {
    nlohmann::json instances = nlohmann::json::array();
    for (std::size_t i = 0; i < report.plan.instances.size(); ++i) {
        instances.push_back(instance_to_json(report.plan.instances[i], report.reviews.at(i),
                                             report.wiring.at(i), report.platform));
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

/// "control plane acp-1, key manager acp-1, traffic managers tm-1": whom a split pack talks to.
static std::string describe_peers(const Profile& profile) {
    const SplitPeers& peers = profile.peers;
    std::string text;
    const auto add = [&](const std::string& what, std::vector<std::string> names) {
        std::erase(names, profile.name);  // a control plane is its own key manager
        if (names.empty()) {
            return;
        }
        std::string list;
        for (const auto& name : names) {
            list += (list.empty() ? "" : ", ") + name;
        }
        text += (text.empty() ? "" : "; ") + what + (names.size() > 1 ? "s " : " ") + list;
    };
    add("control plane", peers.of(PeerKind::ControlPlane));
    add("key manager", peers.of(PeerKind::KeyManager));
    add("traffic manager", peers.traffic_managers);
    add("gateway", peers.gateways);
    return text;
}

static void write_instance_text(std::ostream& out, const InstancePlan& instance,
                                const ConfigReview& review, const WiringReview& wiring,
                                Platform platform) {
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
    if (profile.role && *profile.role != SplitRole::AllInOne) {
        out << "  role    " << to_string(*profile.role);
        if (!profile.connect.wire) {
            out << " (\"connect\": false: wired by hand)";
        } else if (const std::string peers = describe_peers(profile); !peers.empty()) {
            out << "; connects to " << peers;
        }
        out << "\n";
    }
    for (const auto& warning : review.warnings) {
        out << "  warning " << warning << "\n";
    }
    for (const auto& warning : wiring.warnings) {
        out << "  warning " << warning << "\n";
    }
}

/// The peer settings of every split pack as one table: instance, role, setting, current value,
/// wanted value (what `apply` and `run` write).
static void write_wiring_text(std::ostream& out, const PlanReport& report) {
    std::vector<std::array<std::string, 5>> rows;
    for (std::size_t i = 0; i < report.plan.instances.size(); ++i) {
        const Profile& profile = *report.plan.instances[i].profile;
        for (const auto& row : report.wiring.at(i).rows) {
            std::string wanted = to_display(row.target.wanted);
            if (row.action == WiringAction::Keep) {
                wanted += "  (already set)";
            } else if (row.action == WiringAction::LeftAlone) {
                wanted = "(left alone: " + row.note + ")";
            }
            rows.push_back({profile.name, to_string(*profile.role), row.target.setting(),
                            row.current ? row.current->text : "(not set)", wanted});
        }
    }
    if (rows.empty()) {
        return;
    }
    rows.insert(rows.begin(), {"instance", "role", "setting", "current", "wanted"});
    std::array<std::size_t, 4> widths{};
    for (const auto& row : rows) {
        for (std::size_t column = 0; column < widths.size(); ++column) {
            widths[column] = std::max(widths[column], row[column].size());
        }
    }
    out << "\nwiring (peer settings in each deployment.toml; apply and run write them)\n";
    for (const auto& row : rows) {
        out << " ";
        for (std::size_t column = 0; column < widths.size(); ++column) {
            out << " " << row[column] << std::string(widths[column] - row[column].size() + 1, ' ');
        }
        out << " " << row[4] << "\n";
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
        write_instance_text(out, plan.instances[i], report.reviews.at(i), report.wiring.at(i),
                            report.platform);
    }
    write_wiring_text(out, report);
    if (!plan.conflicts.empty()) {
        out << "\nconflicts\n";
        for (const auto& conflict : plan.conflicts) {
            out << "  " << conflict.message << "\n";
        }
    }
    return out.str();
}

}  // namespace carbon
