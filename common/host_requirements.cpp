#include "host_requirements.hpp"

namespace carbon {
namespace {

std::optional<PackVersion> read_version(JsonFieldReader& reader, const std::string& key) {
    if (!reader.has(key)) {
        return std::nullopt;
    }
    const std::string text = reader.string(key);
    auto version = parse_pack_version(text);
    if (!version) {
        reader.error(key, "\"" + text + "\" is not a version; write it as \"4.3.0\"");
    }
    return version;
}

JdkRange read_jdk_range(JsonFieldReader& entry) {
    JdkRange range;
    range.from = read_version(entry, "from");
    range.before = read_version(entry, "before");
    range.min_major = static_cast<int>(entry.integer("min", 0, 1, 99));
    range.max_major = static_cast<int>(entry.integer("max", 0, 1, 99));
    range.sources = entry.string("sources");
    if (range.min_major == 0 || range.max_major == 0) {
        entry.error("min", "a JDK range needs \"min\" and \"max\" (JDK majors, 8 for 1.8)");
    } else if (range.min_major > range.max_major) {
        entry.error("max", "is below \"min\"");
    }
    entry.reject_unknown_keys({"from", "before", "min", "max", "sources"});
    return range;
}

JdkTrap read_jdk_trap(JsonFieldReader& entry) {
    JdkTrap trap;
    trap.versions = entry.string_list("versions");
    trap.unless_script_contains = entry.string("unless_script_contains");
    trap.why = entry.required_string("why", "say what breaks, for the operator");
    trap.sources = entry.string("sources");
    entry.reject_unknown_keys({"versions", "unless_script_contains", "why", "sources"});
    return trap;
}

MemoryFacts read_memory(JsonFieldReader& memory) {
    MemoryFacts facts;
    facts.default_options = memory.string("default_options", facts.default_options);
    facts.replaced_by_linux = memory.string("replaced_by_linux");
    facts.replaced_by_windows = memory.string("replaced_by_windows");
    facts.appended = memory.string("appended", facts.appended);
    facts.non_heap_ratio =
        static_cast<double>(memory.integer("non_heap_percent", 50, 0, 400)) / 100.0;
    facts.non_heap_min_mb = static_cast<int>(memory.integer("non_heap_min_mb", 256, 0, 65536));
    facts.diagnostics_jvm_mb = static_cast<int>(memory.integer("diagnostics_jvm_mb", 0, 0, 65536));
    facts.diagnostics_from = read_version(memory, "diagnostics_from");
    facts.sources = memory.string("sources");
    memory.reject_unknown_keys({"default_options", "replaced_by_linux", "replaced_by_windows",
                                "appended", "non_heap_percent", "non_heap_min_mb",
                                "diagnostics_jvm_mb", "diagnostics_from", "sources"});
    return facts;
}

InstanceNeeds read_needs(JsonFieldReader& needs) {
    InstanceNeeds result;
    result.nofile = static_cast<int>(needs.integer("nofile", result.nofile, 0, 1 << 24));
    result.nproc = static_cast<int>(needs.integer("nproc", result.nproc, 0, 1 << 22));
    result.log_headroom_mb =
        static_cast<int>(needs.integer("log_headroom_mb", result.log_headroom_mb, 0, 1 << 20));
    result.heap_dump = needs.string("heap_dump");
    result.sources = needs.string("sources");
    needs.reject_unknown_keys({"nofile", "nproc", "log_headroom_mb", "heap_dump", "sources"});
    return result;
}

template <typename Read>
auto read_object(JsonFieldReader& parent, const std::string& key, Read read)
    -> decltype(read(parent)) {
    const auto* object = parent.child(key);
    if (object == nullptr) {
        return {};
    }
    if (!object->is_object()) {
        parent.error(key, "expected an object, found " + json_type_name(*object));
        return {};
    }
    JsonFieldReader reader(*object, parent.file(), parent.pointer_to(key), parent.diagnostics());
    return read(reader);
}

}  // namespace

bool JdkRange::covers(const PackVersion& version) const {
    return (!from || version >= *from) && (!before || version < *before);
}

std::string JdkRange::describe_range() const {
    if (from && before) {
        return from->to_string() + " up to (not including) " + before->to_string();
    }
    if (from) {
        return from->to_string() + " and later";
    }
    if (before) {
        return "before " + before->to_string();
    }
    return "every version";
}

const JdkRange* HostRequirements::jdk_range_for(const PackVersion& version) const {
    for (const auto& range : jdk) {
        if (range.covers(version)) {
            return &range;
        }
    }
    return nullptr;
}

HostRequirements parse_host_requirements(JsonFieldReader& host) {
    HostRequirements requirements;
    for_each_object_entry(host, "jdk", [&](JsonFieldReader& entry) {
        requirements.jdk.push_back(read_jdk_range(entry));
    });
    for_each_object_entry(host, "jdk_traps", [&](JsonFieldReader& entry) {
        requirements.jdk_traps.push_back(read_jdk_trap(entry));
    });
    requirements.memory = read_object(host, "memory", read_memory);
    requirements.needs = read_object(host, "needs", read_needs);
    host.reject_unknown_keys({"jdk", "jdk_traps", "memory", "needs", "sources"});
    return requirements;
}

}  // namespace carbon
