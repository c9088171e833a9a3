#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "offset_planner.hpp"
#include "test_support.hpp"

using namespace carbon;

namespace {

Profile make_profile(const std::string& name, const std::string& runtime,
                     std::optional<int> offset = std::nullopt) {
    Profile profile;
    profile.name = name;
    profile.runtime = runtime;
    profile.source = name + ".json";
    profile.table = test::source_catalog().find(runtime);
    REQUIRE(profile.table != nullptr);
    profile.ports = table_ports(*profile.table);
    profile.offset = offset;
    return profile;
}

class FakeHost : public PortProbe {
  public:
    std::map<int, PortHolder> held;
    bool is_held(int port) const override { return held.count(port) != 0; }
    PortHolder holder(int port) const override { return held.at(port); }
};

/// The same profiles with an explicit `offset` each.
std::vector<Profile> make_profiles_at(std::vector<Profile> profiles, int offset) {
    for (auto& profile : profiles) {
        profile.offset = offset;
    }
    return profiles;
}

std::set<int> all_ports(const Plan& plan) {
    std::set<int> seen;
    for (const auto& instance : plan.instances) {
        for (const auto& port : instance.ports) {
            REQUIRE_MESSAGE(seen.insert(port.port).second,
                            "port " << port.port << " planned twice");
        }
    }
    return seen;
}

}  // namespace

TEST_CASE("explicit offsets are kept and checked, never moved") {
    const std::vector<Profile> profiles = {make_profile("apim-1", "api-manager", 0),
                                           make_profile("apim-2", "api-manager", 0)};
    const Plan plan = plan_offsets(profiles, {}, EmptyHost());
    CHECK(plan.instances[0].offset == 0);
    CHECK(plan.instances[1].offset == 0);
    CHECK(plan.instances[1].source == OffsetSource::Explicit);
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.conflicts.front().kind == ConflictKind::Instances);
    CHECK(plan.conflicts.front().message.find("9443 (HTTPS servlet") != std::string::npos);
    CHECK(plan.conflicts.front().message.find("of apim-2 at offset 0 collides with apim-1") !=
          std::string::npos);
}

TEST_CASE("auto instances get the smallest offsets that fit, all ports distinct") {
    const std::vector<Profile> profiles = {
        make_profile("apim-1", "api-manager"), make_profile("apim-2", "api-manager"),
        make_profile("apim-3", "api-manager"), make_profile("si", "streaming-integrator"),
        make_profile("tooling", "si-tooling")};
    const Plan plan = plan_offsets(profiles, {}, EmptyHost());
    REQUIRE(plan.ok());
    CHECK(plan.find("apim-1")->offset == 0);
    CHECK(plan.find("apim-2")->offset == 1);
    CHECK(plan.find("apim-3")->offset == 2);
    all_ports(plan);
    // SI cannot take offset 0..2 (9443 and 9611/9711 of the API-M instances) nor the Tooling's.
    const int si_offset = plan.find("si")->offset;
    CHECK(si_offset >= 3);
    CHECK(plan.find("tooling")->source == OffsetSource::Shipped);
    CHECK(plan.find("tooling")->offset == 3);
}

TEST_CASE("SI Tooling keeps its shipped offset 3 when it fits") {
    const std::vector<Profile> profiles = {make_profile("tooling", "si-tooling")};
    const Plan plan = plan_offsets(profiles, {}, EmptyHost());
    CHECK(plan.instances[0].offset == 3);
    CHECK(plan.instances[0].source == OffsetSource::Shipped);
}

TEST_CASE("a sticky offset is reused while it fits") {
    const std::vector<Profile> profiles = {make_profile("apim-1", "api-manager"),
                                           make_profile("apim-2", "api-manager")};
    const Plan plan = plan_offsets(profiles, {{"apim-2", 7}}, EmptyHost());
    REQUIRE(plan.ok());
    CHECK(plan.find("apim-2")->offset == 7);
    CHECK(plan.find("apim-2")->source == OffsetSource::Sticky);
    CHECK(plan.find("apim-1")->offset == 0);
}

TEST_CASE("a sticky offset is not stolen by a new instance that sorts first") {
    const std::vector<Profile> profiles = {make_profile("a-new", "api-manager"),
                                           make_profile("b-old", "api-manager")};
    const Plan plan = plan_offsets(profiles, {{"b-old", 0}}, EmptyHost());
    CHECK(plan.find("b-old")->offset == 0);
    CHECK(plan.find("a-new")->offset == 1);
}

TEST_CASE("a sticky offset is dropped when its port got taken on the host") {
    FakeHost host;
    host.held[9443 + 4] = PortHolder{4242, "java"};
    const std::vector<Profile> profiles = {make_profile("apim-1", "api-manager")};
    const Plan plan = plan_offsets(profiles, {{"apim-1", 4}}, host);
    REQUIRE(plan.ok());
    CHECK(plan.instances[0].offset == 0);
    CHECK(plan.instances[0].source == OffsetSource::Shipped);
    CHECK(plan.instances[0].note.find("previous offset 4 dropped") != std::string::npos);
    CHECK(plan.instances[0].note.find("pid 4242 (java)") != std::string::npos);
}

TEST_CASE("a host-held port moves an auto instance and names the holder for an explicit one") {
    FakeHost host;
    host.held[9443] = PortHolder{999, "nginx"};
    SUBCASE("auto moves") {
        const Plan plan = plan_offsets({make_profile("apim-1", "api-manager")}, {}, host);
        REQUIRE(plan.ok());
        CHECK(plan.instances[0].offset == 1);
    }
    SUBCASE("explicit reports") {
        const Plan plan = plan_offsets({make_profile("apim-1", "api-manager", 0)}, {}, host);
        REQUIRE(plan.conflicts.size() == 1);
        CHECK(plan.conflicts[0].kind == ConflictKind::Host);
        CHECK(
            plan.conflicts[0].message ==
            "9443 (HTTPS servlet (Publisher, DevPortal, Admin, Carbon console)) of apim-1 at "
            "offset 0 is held by pid 999 (nginx); stop that process or choose another \"offset\"");
    }
    SUBCASE("an invisible holder is said to be invisible") {
        host.held[9443] = PortHolder{};
        const Plan plan = plan_offsets({make_profile("apim-1", "api-manager", 0)}, {}, host);
        REQUIRE(plan.conflicts.size() == 1);
        CHECK(plan.conflicts[0].message.find("cannot see") != std::string::npos);
    }
}

TEST_CASE("two SIs collide on their fixed store-API ports whatever the offsets") {
    const std::vector<Profile> profiles = {make_profile("si-1", "streaming-integrator"),
                                           make_profile("si-2", "streaming-integrator")};
    const Plan plan = plan_offsets(profiles, {}, EmptyHost());
    REQUIRE(plan.conflicts.size() == 2);  // 7070 and 7443
    for (const auto& conflict : plan.conflicts) {
        CHECK(conflict.kind == ConflictKind::FixedPort);
        CHECK(conflict.instance == "si-2");
        CHECK(conflict.other_instance == "si-1");
        CHECK(conflict.message.find("no offset solves it") != std::string::npos);
        CHECK(conflict.message.find("siddhi.stores.query.api") != std::string::npos);
    }
}

TEST_CASE("moving the fixed port in one SI's config resolves the conflict") {
    std::vector<Profile> profiles = {make_profile("si-1", "streaming-integrator"),
                                     make_profile("si-2", "streaming-integrator")};
    for (auto& port : profiles[1].ports) {
        port.base += port.follows_offset ? 0 : 1;
    }
    const Plan plan = plan_offsets(profiles, {}, EmptyHost());
    CHECK(plan.ok());
    all_ports(plan);
}

TEST_CASE("no auto offset may push a port past 65535") {
    Profile profile = make_profile("apim-1", "api-manager");
    profile.ports.push_back({"high", 65530, "high port", true, true, true, false, "", "profile"});
    FakeHost host;
    for (int offset = 0; offset <= 5; ++offset) {
        host.held[65530 + offset] = PortHolder{1, "x"};
    }
    const Plan plan = plan_offsets({profile}, {}, host);
    REQUIRE(plan.conflicts.size() == 1);
    CHECK(plan.conflicts[0].kind == ConflictKind::NoOffset);
    CHECK_FALSE(plan.instances[0].placed);
    CHECK(profile.max_offset() == 5);
}

TEST_CASE("a sticky offset that would overflow is dropped") {
    const Plan plan =
        plan_offsets({make_profile("apim-1", "api-manager")}, {{"apim-1", 60000}}, EmptyHost());
    REQUIRE(plan.ok());
    CHECK(plan.instances[0].offset == 0);
    CHECK(plan.instances[0].note.find("past 65535") != std::string::npos);
}

TEST_CASE("the same inputs give the same plan") {
    std::vector<Profile> profiles;
    for (int i = 0; i < 30; ++i) {
        profiles.push_back(make_profile("apim-" + std::to_string(i), "api-manager"));
    }
    profiles.push_back(make_profile("si", "streaming-integrator"));
    profiles.push_back(make_profile("tooling", "si-tooling"));
    FakeHost host;
    host.held[9450] = PortHolder{1, "x"};
    const Plan first = plan_offsets(profiles, {{"apim-9", 40}}, host);
    const Plan second = plan_offsets(profiles, {{"apim-9", 40}}, host);
    REQUIRE(first.ok());
    for (std::size_t i = 0; i < profiles.size(); ++i) {
        CHECK(first.instances[i].offset == second.instances[i].offset);
    }
    all_ports(first);
}

TEST_CASE("optional fixed ports are not reserved unless enabled") {
    const std::vector<Profile> profiles = {make_profile("apim-1", "api-manager"),
                                           make_profile("apim-2", "api-manager")};
    const Plan plan = plan_offsets(profiles, {}, EmptyHost());
    CHECK(plan.ok());
    for (const auto& port : plan.instances[0].ports) {
        CHECK(port.spec->key != "hazelcast");
    }
}

TEST_CASE("every newly chosen offset is the smallest that was free") {
    std::vector<Profile> profiles;
    for (int i = 0; i < 120; ++i) {
        profiles.push_back(make_profile("apim-" + std::to_string(100 + i), "api-manager"));
    }
    for (int i = 0; i < 10; ++i) {
        profiles.push_back(make_profile("si-" + std::to_string(i), "streaming-integrator"));
        for (auto& port : profiles.back().ports) {
            port.base += port.follows_offset ? 0 : 10 * (i + 1);  // distinct fixed ports
        }
    }
    profiles.push_back(make_profile("apim-explicit", "api-manager", 57));
    FakeHost host;
    for (const int port : {9443, 9450, 9611, 5690, 8400}) {
        host.held[port] = PortHolder{1, "x"};
    }
    const Plan plan = plan_offsets(profiles, {}, host);
    REQUIRE(plan.ok());
    const std::set<int> taken = all_ports(plan);
    for (const auto& instance : plan.instances) {
        if (instance.source != OffsetSource::Chosen) {
            continue;
        }
        // Any smaller offset must clash with a port of the final plan (the plan only grows
        // while offsets are chosen) or with the host.
        for (int lower = 0; lower < instance.offset; ++lower) {
            bool clashes = false;
            for (const auto& port : instance.ports) {
                const int candidate = port.spec->effective(lower);
                const bool own = port.spec->effective(instance.offset) == candidate;
                clashes = clashes || (!own && taken.count(candidate)) || host.is_held(candidate);
            }
            CHECK_MESSAGE(clashes, instance.profile->name << " skipped free offset " << lower);
        }
    }
}

TEST_CASE("an auto or sticky offset keeps every port out of an unbindable range") {
    PlanPreferences preferences;
    preferences.unbindable = {{9440, 9539}};  // e.g. taken by Hyper-V at boot: 9443 + 0..96
    const auto in_range = [&preferences](const InstancePlan& instance) {
        return std::any_of(instance.ports.begin(), instance.ports.end(), [&](const auto& port) {
            return preferences.unbindable_range(port.port) != nullptr;
        });
    };
    const std::vector<Profile> profiles = {make_profile("apim-1", "api-manager")};

    SUBCASE("auto takes the first offset past it, and says why offset 0 was skipped") {
        const Plan plan = plan_offsets(profiles, {}, EmptyHost(), preferences);
        REQUIRE(plan.ok());
        const InstancePlan& instance = plan.instances[0];
        CHECK_FALSE(in_range(instance));
        CHECK(instance.offset >= 97);
        CHECK(instance.note.rfind("offset 0 skipped: ", 0) == 0);
        CHECK(instance.note.find("excluded port range 9440-9539, where no program can bind") !=
              std::string::npos);
        // The smallest such offset: one lower puts a port in the range.
        const Plan lower =
            plan_offsets(make_profiles_at(profiles, instance.offset - 1), {}, EmptyHost(), {});
        CHECK(in_range(lower.instances[0]));
    }
    SUBCASE("a sticky offset inside it is dropped with the reason") {
        const Plan plan = plan_offsets(profiles, {{"apim-1", 5}}, EmptyHost(), preferences);
        REQUIRE(plan.ok());
        CHECK_FALSE(in_range(plan.instances[0]));
        CHECK(plan.instances[0].note.rfind("previous offset 5 dropped: ", 0) == 0);
        CHECK(plan.instances[0].note.find("excluded port range 9440-9539") != std::string::npos);
    }
    SUBCASE("an explicit offset is kept: check fails it under excluded-ports") {
        const Plan plan =
            plan_offsets({make_profile("apim-1", "api-manager", 0)}, {}, EmptyHost(), preferences);
        CHECK(plan.ok());
        CHECK(plan.instances[0].offset == 0);
    }
    SUBCASE("without the range, offset 0 as before") {
        CHECK(plan_offsets(profiles, {}, EmptyHost(), {}).instances[0].offset == 0);
    }
}
