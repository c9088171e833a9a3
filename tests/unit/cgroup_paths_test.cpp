#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cgroup_paths.hpp"
#include "diagnostics.hpp"
#include "instance_record.hpp"
#include "offset_planner.hpp"
#include "profile.hpp"
#include "systemd_unit.hpp"
#include "test_support.hpp"

using namespace carbon;
using carbon::test::make_home;
using carbon::test::source_catalog;
using carbon::test::TempDir;
using carbon::test::write_file;

namespace {

// This machine's layout: cgroup v1 controllers, cgroup2 only at /sys/fs/cgroup/unified.
const char* const kHybridMountinfo =
    "22 1 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

// Debian 12's default: unified, with optional fields before the separator.
const char* const kUnifiedMountinfo =
    "25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

/// An API-M profile with the given "limits" text (the home's path JSON-escaped: Windows has
/// backslashes).
std::string profile_text(const std::filesystem::path& home, const std::string& limits) {
    const std::string head =
        nlohmann::json{{"name", "a"}, {"runtime", "api-manager"}, {"home", home.string()}}.dump();
    return head.substr(0, head.size() - 1) + R"(,"limits":)" + limits + "}";
}

}  // namespace

TEST_CASE("the cgroup2 mount is found in mountinfo wherever it is, never assumed") {
    const auto hybrid = parse_cgroup2_mounts(kHybridMountinfo);
    REQUIRE(hybrid.size() == 1);
    CHECK(hybrid[0].mount_point == "/sys/fs/cgroup/unified");
    CHECK(hybrid[0].root == "/");
    CHECK_FALSE(hybrid[0].read_only);

    const auto unified = parse_cgroup2_mounts(kUnifiedMountinfo);
    REQUIRE(unified.size() == 1);
    CHECK(unified[0].mount_point == "/sys/fs/cgroup");

    // ProtectControlGroups=yes: a read-only mount; a mount point with a space is escaped.
    const auto odd = parse_cgroup2_mounts(
        "90 30 0:37 /sub /run/my\\040cgroups ro,nosuid shared:1 master:2 - cgroup2 none rw\n"
        "garbage line\n"
        "91 30 0:38 / /x rw - \n");
    REQUIRE(odd.size() == 1);
    CHECK(odd[0].mount_point == "/run/my cgroups");
    CHECK(odd[0].root == "/sub");
    CHECK(odd[0].read_only);

    CHECK(
        parse_cgroup2_mounts("34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw\n").empty());
    CHECK(parse_cgroup2_mounts("").empty());
}

TEST_CASE("the launcher's own cgroup is the 0:: line of /proc/self/cgroup") {
    CHECK(parse_unified_cgroup("9:name=systemd:/\n4:memory:/process_api/f1\n0::/\n") == "/");
    CHECK(parse_unified_cgroup("0::/system.slice/carbon-launcher.service\n") ==
          "/system.slice/carbon-launcher.service");
    CHECK(parse_unified_cgroup("0::/a:b\n") == "/a:b");  // a colon in a name is kept
    CHECK_FALSE(parse_unified_cgroup("4:memory:/x\n1:cpu:/\n"));
    CHECK_FALSE(parse_unified_cgroup(""));
}

TEST_CASE("a cgroup's directory is found through the mount's root") {
    const Cgroup2Mount whole{"/sys/fs/cgroup/unified", "/", false};
    CHECK(cgroup_directory(whole, "/") == std::filesystem::path("/sys/fs/cgroup/unified"));
    CHECK(cgroup_directory(whole, "/system.slice/x.service") ==
          std::filesystem::path("/sys/fs/cgroup/unified/system.slice/x.service"));

    const Cgroup2Mount part{"/mnt/cg", "/machine.slice", false};
    CHECK(cgroup_directory(part, "/machine.slice/c1") == std::filesystem::path("/mnt/cg/c1"));
    CHECK(cgroup_directory(part, "/machine.slice") == std::filesystem::path("/mnt/cg"));
    CHECK_FALSE(cgroup_directory(part, "/machine.slicer/c1"));
    CHECK_FALSE(cgroup_directory(part, "/system.slice"));

    // Outside a cgroup namespace's root, /proc/self/cgroup shows ".." components.
    CHECK_FALSE(cgroup_directory(whole, "/../../x"));
    CHECK_FALSE(cgroup_directory(whole, "relative"));
    CHECK_FALSE(cgroup_directory(whole, "/a//b"));
    CHECK_FALSE(cgroup_directory(whole, ""));

    // A writable mount that shows the cgroup wins over a read-only one.
    const std::vector<Cgroup2Mount> mounts = {
        {"/ro", "/", true}, {"/other", "/x", false}, {"/rw", "/", false}};
    CHECK(choose_cgroup2_mount(mounts, "/a")->mount_point == "/rw");
    CHECK(choose_cgroup2_mount({{"/ro", "/", true}}, "/a")->read_only);
    CHECK_FALSE(choose_cgroup2_mount({{"/other", "/x", false}}, "/a"));
}

TEST_CASE("cgroup.procs, cgroup.events and cgroup.controllers") {
    CHECK(parse_cgroup_procs("12\n345\n") == std::vector<int>{12, 345});
    CHECK(parse_cgroup_procs("") == std::vector<int>{});
    CHECK(parse_cgroup_procs("7\nx\n-3\n0\n8 9\n10") == std::vector<int>{7, 10});

    CHECK(parse_cgroup_populated("populated 1\nfrozen 0\n") == true);
    CHECK(parse_cgroup_populated("populated 0\nfrozen 0\n") == false);
    CHECK_FALSE(parse_cgroup_populated("frozen 0\n"));
    CHECK_FALSE(parse_cgroup_populated("populated yes\n"));

    CHECK(parse_cgroup_controllers("cpuset cpu io memory pids\n") ==
          std::set<std::string>{"cpuset", "cpu", "io", "memory", "pids"});
    CHECK(parse_cgroup_controllers("\n").empty());
}

TEST_CASE("each state dir gets its own stable cgroup name") {
    const std::string name = launcher_cgroup_name("/var/lib/carbon-launcher");
    CHECK(name.rfind("carbon-launcher-", 0) == 0);
    CHECK(name.size() == std::string("carbon-launcher-").size() + 16);
    CHECK(name.find_first_not_of("carbon-launcher-0123456789abcdef") == std::string::npos);
    CHECK(launcher_cgroup_name("/var/lib/carbon-launcher") == name);
    CHECK(launcher_cgroup_name("/var/lib/./carbon-launcher") == name);
    CHECK(launcher_cgroup_name("/var/lib/carbon-launcher2") != name);
    CHECK(launcher_cgroup_name("/tmp/state") != name);
}

TEST_CASE("a record's cgroup is acted on only when it is one this launcher makes") {
    const std::filesystem::path state = "/var/lib/carbon-launcher";
    const std::filesystem::path mount = "/sys/fs/cgroup/unified";
    const std::filesystem::path ours = mount / launcher_cgroup_name(state);
    CHECK(is_instance_cgroup_of(ours / "apim-1", "apim-1", mount, state));
    CHECK(is_instance_cgroup_of(
        mount / "system.slice/carbon-launcher.service" / launcher_cgroup_name(state) / "si-1",
        "si-1", mount, state));

    CHECK_FALSE(is_instance_cgroup_of(ours / "apim-2", "apim-1", mount, state));  // another name
    CHECK_FALSE(
        is_instance_cgroup_of(mount / "system.slice/sshd.service", "sshd.service", mount, state));
    CHECK_FALSE(is_instance_cgroup_of(mount / launcher_cgroup_name("/other") / "apim-1", "apim-1",
                                      mount, state));
    CHECK_FALSE(is_instance_cgroup_of(
        "/elsewhere" / std::filesystem::path(launcher_cgroup_name(state)) / "apim-1", "apim-1",
        mount, state));
    CHECK_FALSE(is_instance_cgroup_of(ours / ".." / "apim-1", "apim-1", mount, state));
    CHECK_FALSE(is_instance_cgroup_of(std::filesystem::path(launcher_cgroup_name(state)) / "apim-1",
                                      "apim-1", mount, state));  // relative
    CHECK_FALSE(is_instance_cgroup_of(ours / "apim-1", "", mount, state));
}

TEST_CASE("memory sizes as systemd's MemoryMax= writes them") {
    CHECK(parse_memory_size("4G") == 4ULL << 30);
    CHECK(parse_memory_size("512M") == 512ULL << 20);
    CHECK(parse_memory_size("64K") == 64ULL << 10);
    CHECK(parse_memory_size("2T") == 2ULL << 40);
    CHECK(parse_memory_size("1048576") == 1048576ULL);
    for (const char* bad : {"", "G", "4GB", "4g", "-1", "1.5G", " 4G", "4G ", "99999999999T",
                            "18446744073709551616"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_memory_size(bad));
    }
}

TEST_CASE("profile limits are validated with the field and the fix") {
    TempDir dir;
    make_home(dir / "homes/apim", "api-manager");
    const auto load = [&](const std::string& limits) {
        write_file(dir / "profiles/p.json", profile_text(dir / "homes/apim", limits));
        return load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
    };
    const auto problems = [&](const std::string& limits) {
        try {
            load(limits);
        } catch (const ConfigError& e) {
            return e.diagnostics();
        }
        return std::vector<Diagnostic>{};
    };

    const auto both = load(R"({"memory_max": "4G", "pids_max": 4096})").front().limits;
    CHECK(both.memory_max == 4ULL << 30);
    CHECK(both.pids_max == 4096ULL);
    CHECK(load(R"({"memory_max": 2147483648})").front().limits.memory_max == 2147483648ULL);
    CHECK(load(R"({"memory_max": "max", "pids_max": "max"})").front().limits.empty());
    CHECK(load("{}").front().limits.empty());

    struct Bad {
        const char* limits;
        const char* pointer;
        const char* phrase;
    };
    for (const Bad& bad : {
             Bad{R"({"memory_max": "4GB"})", "/limits/memory_max", "use bytes, a number with K"},
             Bad{R"({"memory_max": -1})", "/limits/memory_max", "is not a memory size"},
             Bad{R"({"memory_max": true})", "/limits/memory_max", "is not a memory size"},
             Bad{R"({"memory_max": "512K"})", "/limits/memory_max", "at least \"1M\""},
             Bad{R"({"pids_max": 0})", "/limits/pids_max", "from 1 to 4194304"},
             Bad{R"({"pids_max": "4096"})", "/limits/pids_max", "is not a task count"},
             Bad{R"({"pids_max": 1e309})", "", ""},
             Bad{R"({"cpu_max": 2})", "/limits/cpu_max", ""},
             Bad{R"("4G")", "/limits", "expected an object"},
         }) {
        CAPTURE(bad.limits);
        const auto found = problems(bad.limits);
        REQUIRE(found.size() == 1);
        if (*bad.pointer != '\0') {
            CHECK(found[0].pointer == bad.pointer);
        }
        CHECK(found[0].message.find(bad.phrase) != std::string::npos);
    }
}

TEST_CASE("an instance record keeps its cgroup; an older record has none") {
    InstanceRecord record{"apim-1", 10, 10, 555, 3, "/opt/apim", 9};
    record.cgroup = "/sys/fs/cgroup/unified/carbon-launcher-0123456789abcdef/apim-1";
    const auto back = parse_instance_record(render_instance_record(record), "x.json");
    CHECK(back.cgroup == record.cgroup);
    const auto old = parse_instance_record(
        R"({"name":"a","pid":5,"pgid":5,"start_time":1,"offset":0,"home":"/h"})", "x.json");
    CHECK(old.cgroup.empty());
    CHECK_THROWS_AS(parse_instance_record(R"({"name":"a","pid":5,"pgid":5,"start_time":1,)"
                                          R"("offset":0,"home":"/h","cgroup":7})",
                                          "x.json"),
                    ConfigError);
}

TEST_CASE("an exported unit carries the profile's limits") {
    TempDir dir;
    make_home(dir / "homes/apim", "api-manager");
    write_file(dir / "profiles/p.json",
               profile_text(dir / "homes/apim", R"({"memory_max":"3G","pids_max":2048})"));
    const auto profiles = load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
    InstancePlan planned;
    planned.profile = &profiles.front();
    planned.offset = 0;
    const std::string unit = render_instance_unit(planned, {});
    CHECK(unit.find("MemoryMax=3221225472\n") != std::string::npos);
    CHECK(unit.find("TasksMax=2048\n") != std::string::npos);
    CHECK(unit.find("Delegate=") == std::string::npos);  // systemd holds the whole unit itself
}
