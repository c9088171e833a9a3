#include <doctest/doctest.h>

#include <memory>

#include "host_check.hpp"
#include "offset_planner.hpp"
#include "profile.hpp"
#include "test_support.hpp"

using namespace carbon;
using carbon::test::make_home;
using carbon::test::source_catalog;
using carbon::test::TempDir;
using carbon::test::write_file;

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr std::uint64_t kGiB = 1024 * kMiB;

using Packs = std::vector<std::array<std::string, 3>>;

/// API-M (and SI) homes of given pack versions, their profiles loaded and planned on an empty
/// host, and the facts `check` would read, ready for each test to change.
struct CheckFixture {
    TempDir dir;
    std::vector<Profile> profiles;
    Plan plan;
    std::vector<InstanceFacts> instances;
    HostFacts host;

    /// `packs`: name -> {runtime, pack version ("" writes no version file)}.
    explicit CheckFixture(const Packs& packs) {
        for (const auto& [name, runtime, version] : packs) {
            const auto home = dir / ("homes/" + name);
            make_home(home, runtime);
            if (!version.empty()) {
                write_file(home / "bin/version.txt", "WSO2 pack-" + version + "\n");
            }
            write_file(dir / ("profiles/" + name + ".json"),
                       R"({"name":")" + name + R"(","runtime":")" + runtime + R"(","home":")" +
                           home.generic_string() + "\"}");
        }
        profiles = load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
        plan = plan_offsets(profiles, {}, EmptyHost());
        for (const auto& instance : plan.instances) {
            InstanceFacts facts;
            facts.plan = &instance;
            facts.jdk = {"/jdk", "21.0.5", "/jdk/release", ""};
            facts.disk_free = 100 * kGiB;
            facts.filesystem = "fs1";
            instances.push_back(facts);
        }
        host.mem_total = 64 * kGiB;
        host.mem_available = 60 * kGiB;
        host.ephemeral = PortRange{32768, 60999};
        host.nofile = 65536;
        host.hostname = "vm";
        host.hostname_resolved = true;
        host.hostname_local = true;
        host.hostname_addresses = "127.0.1.1";
        host.hostname_lookup_ms = 0.4;
    }

    InstanceFacts& instance(const std::string& name) {
        for (auto& facts : instances) {
            if (facts.plan->profile->name == name) {
                return facts;
            }
        }
        FAIL("no instance " << name);
        throw std::logic_error("unreachable");
    }

    CheckReport run() const { return run_host_checks(instances, host); }
};

/// The findings of `check` for `instance` ("" for the host).
std::vector<Finding> findings_of(const CheckReport& report, const std::string& check,
                                 const std::string& instance = "") {
    std::vector<Finding> found;
    for (const auto& finding : report.findings) {
        if (finding.check == check && finding.instance == instance) {
            found.push_back(finding);
        }
    }
    return found;
}

CheckLevel jdk_level(const std::string& pack_version, const std::string& jdk_version) {
    CheckFixture fixture(Packs{{"apim", "api-manager", pack_version}});
    fixture.instance("apim").jdk.version = jdk_version;
    const auto findings = findings_of(fixture.run(), "jdk", "apim");
    REQUIRE(findings.size() == 1);
    return findings[0].level;
}

}  // namespace

TEST_CASE("jdk release files and java -version output give the JDK's version") {
    CHECK(parse_jdk_release(
              "IMPLEMENTOR=\"Debian\"\nJAVA_VERSION=\"17.0.8\"\nOS_NAME=\"Linux\"\n") == "17.0.8");
    CHECK(parse_jdk_release("JAVA_VERSION=\"1.8.0_392\"\r\n") == "1.8.0_392");
    CHECK(parse_jdk_release("JAVA_RUNTIME_VERSION=\"17\"\n").empty());
    CHECK(parse_java_version_output("openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime\n") ==
          "17.0.15");
    CHECK(parse_java_version_output("java version \"1.8.0_392\"\n") == "1.8.0_392");
    CHECK(java_major("1.8.0_392") == 8);
    CHECK(java_major("1.7.0_80") == 7);
    CHECK(java_major("11.0.20") == 11);
    CHECK(java_major("21") == 21);
    CHECK(java_major("25-ea") == 25);
    CHECK_FALSE(java_major("").has_value());
    CHECK_FALSE(java_major("openjdk").has_value());
}

TEST_CASE("jdk ranges follow the pack's version: 4.0, 4.2, 4.4 and 4.7") {
    CHECK(jdk_level("4.0.0", "11.0.22") == CheckLevel::Ok);
    CHECK(jdk_level("4.0.0", "1.8.0_392") == CheckLevel::Ok);
    CHECK(jdk_level("4.0.0", "17.0.10") == CheckLevel::Fail);
    CHECK(jdk_level("4.2.0", "17.0.10") == CheckLevel::Ok);
    CHECK(jdk_level("4.2.0", "21.0.5") == CheckLevel::Fail);
    CHECK(jdk_level("4.2.0", "1.8.0_392") == CheckLevel::Fail);
    CHECK(jdk_level("4.4.0", "21.0.5") == CheckLevel::Ok);
    CHECK(jdk_level("4.4.0", "11.0.22") == CheckLevel::Ok);
    CHECK(jdk_level("4.4.0", "25.0.1") == CheckLevel::Fail);
    CHECK(jdk_level("4.7.0", "25.0.1") == CheckLevel::Ok);
    CHECK(jdk_level("4.7.0", "17.0.10") == CheckLevel::Fail);
}

TEST_CASE("jdk 17.0.8 fails a pack whose script lacks the zip64 work-around, unless it is set") {
    CHECK(jdk_level("4.4.0", "17.0.8") == CheckLevel::Fail);
    CHECK(jdk_level("4.2.0", "11.0.20") == CheckLevel::Fail);
    CHECK(jdk_level("4.4.0", "17.0.9") == CheckLevel::Ok);

    CheckFixture in_script(Packs{{"apim", "api-manager", "4.4.0"}});
    in_script.instance("apim").jdk.version = "17.0.8";
    in_script.instance("apim").script_text =
        "... -Djdk.util.zip.disableZip64ExtraFieldValidation=true ...";
    CHECK(findings_of(in_script.run(), "jdk", "apim")[0].level == CheckLevel::Ok);

    CheckFixture in_env(Packs{{"apim", "api-manager", "4.4.0"}});
    in_env.instance("apim").jdk.version = "17.0.8";
    in_env.instance("apim").environment["JAVA_OPTS"] =
        "-Djdk.util.zip.disableZip64ExtraFieldValidation=true";
    CHECK(findings_of(in_env.run(), "jdk", "apim")[0].level == CheckLevel::Ok);
}

TEST_CASE("jdk: none set or unreadable fails; an unknown pack version only warns") {
    CheckFixture fixture(Packs{
        {"a", "api-manager", "4.4.0"}, {"b", "api-manager", "4.4.0"}, {"c", "api-manager", ""}});
    fixture.instance("a").jdk = {};
    fixture.instance("b").jdk.version.clear();
    fixture.instance("b").jdk.error = "no /jdk/bin/java and no release file";
    const auto report = fixture.run();
    const auto a = findings_of(report, "jdk", "a")[0];
    CHECK(a.level == CheckLevel::Fail);
    CHECK(a.fix.find("java_home") != std::string::npos);
    const auto b = findings_of(report, "jdk", "b")[0];
    CHECK(b.level == CheckLevel::Fail);
    CHECK(b.measured.find("no /jdk/bin/java") != std::string::npos);
    CHECK(findings_of(report, "jdk", "c")[0].level == CheckLevel::Warn);
    CHECK(report.failed());
}

TEST_CASE(
    "memory: three API-M heaps that overflow the host fail, and the table sums to the total") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"},
                               {"a2", "api-manager", "4.2.0"},
                               {"a3", "api-manager", "4.4.0"}});
    fixture.instance("a1").environment["JAVA_OPTS"] = "-Xms1g -Xmx4g";
    fixture.instance("a2").environment["JVM_MEM_OPTS"] = "-Xms512m -Xmx3072m";
    fixture.host.mem_total = 12 * kGiB;
    const auto report = fixture.run();
    REQUIRE(report.memory.size() == 3);
    CHECK(report.memory[0].heap_mb == 4096);
    CHECK(report.memory[0].heap_from == "JAVA_OPTS");
    CHECK(report.memory[0].non_heap_mb == 2048);
    CHECK(report.memory[0].diagnostics_mb == 256);  // 4.3+: the diagnostics JVM
    CHECK(report.memory[1].heap_mb == 3072);
    CHECK(report.memory[1].heap_from == "JVM_MEM_OPTS");
    CHECK(report.memory[1].diagnostics_mb == 0);  // 4.2 has none
    CHECK(report.memory[2].heap_mb == 1024);
    CHECK(report.memory[2].heap_from == "script default");
    CHECK(report.memory[2].non_heap_mb == 512);
    std::uint64_t sum = 0;
    for (const auto& row : report.memory) {
        sum += row.total_mb();
    }
    CHECK(report.memory_total_mb == sum);
    CHECK(sum == 4096 + 2048 + 256 + 3072 + 1536 + 1024 + 512 + 256);
    const auto memory = findings_of(report, "memory")[0];
    CHECK(memory.level == CheckLevel::Fail);
    CHECK(memory.limit.find("12288 MiB (MemTotal)") != std::string::npos);
    const auto text = render_check_report(report);
    CHECK(text.find(std::to_string(sum)) != std::string::npos);
    CHECK(text.find("12288") != std::string::npos);
}

TEST_CASE("memory: a cgroup limit below MemTotal is the budget; MemAvailable only warns") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"}});
    fixture.host.cgroup_memory_max = 1 * kGiB;
    fixture.host.cgroup = "/system.slice/carbon-launcher.service";
    auto report = fixture.run();
    CHECK(report.memory_budget_mb == 1024);
    CHECK(findings_of(report, "memory")[0].level == CheckLevel::Fail);
    CHECK(findings_of(report, "memory")[0].limit.find("memory.max") != std::string::npos);

    fixture.host.cgroup_memory_max.reset();
    fixture.host.mem_available = 1 * kGiB;
    report = fixture.run();
    CHECK(findings_of(report, "memory")[0].level == CheckLevel::Warn);
}

TEST_CASE("ephemeral ports: a planned port in the range warns unless reserved") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"}});
    fixture.host.ephemeral = PortRange{9000, 9500};
    auto report = fixture.run();
    const auto warned = findings_of(report, "ephemeral-ports", "a1");
    REQUIRE(warned.size() == 1);
    CHECK(warned[0].level == CheckLevel::Warn);
    CHECK(warned[0].measured.find("9021,9099,9443") != std::string::npos);
    CHECK(warned[0].fix.find("export sysctl") != std::string::npos);

    fixture.host.reserved = {{9021, 9021}, {9099, 9099}, {9443, 9443}};
    report = fixture.run();
    CHECK(findings_of(report, "ephemeral-ports", "a1").empty());
    CHECK(findings_of(report, "ephemeral-ports")[0].level == CheckLevel::Ok);
}

TEST_CASE("limits: open files per JVM, threads for every instance") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"}, {"a2", "api-manager", "4.4.0"}});
    fixture.host.nofile = 1024;
    fixture.host.nproc = 1500;
    fixture.host.tasks_max = 4096;
    const auto limits = findings_of(fixture.run(), "limits");
    REQUIRE(limits.size() == 3);
    CHECK(limits[0].level == CheckLevel::Warn);  // 1024 < 4096
    CHECK(limits[0].fix.find("LimitNOFILE=4096") != std::string::npos);
    CHECK(limits[1].level == CheckLevel::Warn);  // 1500 < 2 x 1024
    CHECK(limits[2].level == CheckLevel::Ok);    // 4096 >= 2048
}

TEST_CASE("host name: unresolved or slow warns with the /etc/hosts fix") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"}});
    CHECK(findings_of(fixture.run(), "hostname")[0].level == CheckLevel::Ok);
    fixture.host.hostname_lookup_ms = 5000;
    CHECK(findings_of(fixture.run(), "hostname")[0].level == CheckLevel::Warn);
    fixture.host.hostname_resolved = false;
    fixture.host.hostname_error = "Name or service not known";
    const auto finding = findings_of(fixture.run(), "hostname")[0];
    CHECK(finding.level == CheckLevel::Warn);
    CHECK(finding.fix == "add \"127.0.1.1 vm\" to /etc/hosts");
}

TEST_CASE("disk: homes on one filesystem share its free space") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"}, {"a2", "api-manager", "4.4.0"}});
    for (auto& instance : fixture.instances) {
        instance.disk_free = 3 * kGiB;  // one home needs 1 GiB heap + 1 GiB logs; two need 4
    }
    auto report = fixture.run();
    CHECK(findings_of(report, "disk", "a1")[0].level == CheckLevel::Warn);
    fixture.instance("a2").filesystem = "fs2";
    report = fixture.run();
    CHECK(findings_of(report, "disk", "a1")[0].level == CheckLevel::Ok);
    CHECK(findings_of(report, "disk", "a2")[0].level == CheckLevel::Ok);
}

TEST_CASE("check --json carries every finding and the memory table") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"}});
    fixture.host.state_dir = "/var/lib/carbon-launcher";
    fixture.host.state_dir_error = "cannot write in it";
    const auto json = check_report_to_json(fixture.run());
    CHECK(json["schema"] == "carbon-launcher/check/v1");
    CHECK(json["result"] == "fail");
    CHECK(json["memory"]["instances"][0]["total_mb"] == 1024 + 512 + 256);
    CHECK(json["memory"]["budget_mb"] == 65536);
    bool state_dir_failed = false;
    for (const auto& finding : json["findings"]) {
        state_dir_failed =
            state_dir_failed || (finding["check"] == "state-dir" && finding["level"] == "fail");
    }
    CHECK(state_dir_failed);
}

TEST_CASE("host file parsers: meminfo, port ranges, cgroup limits, heap options") {
    const std::string meminfo =
        "MemTotal:       24684504 kB\nMemFree: 1 kB\nMemAvailable:   "
        "23256484 kB\n";
    CHECK(parse_meminfo_field(meminfo, "MemTotal") == 24684504ULL * 1024);
    CHECK(parse_meminfo_field(meminfo, "MemAvailable") == 23256484ULL * 1024);
    CHECK_FALSE(parse_meminfo_field(meminfo, "Mem").has_value());
    CHECK(parse_port_range("32768\t60999\n")->first == 32768);
    CHECK_FALSE(parse_port_range("60999 32768").has_value());
    CHECK_FALSE(parse_port_range("1 70000").has_value());
    const auto reserved = parse_reserved_ports("8000-8010,9443\n");
    REQUIRE(reserved);
    REQUIRE(reserved->size() == 2);
    CHECK(reserved->at(0).last == 8010);
    CHECK(reserved->at(1).first == 9443);
    CHECK(parse_reserved_ports("\n")->empty());
    CHECK_FALSE(parse_reserved_ports("80-x").has_value());
    CHECK(parse_cgroup_limit("max\n") == std::nullopt);
    CHECK(parse_cgroup_limit("1073741824\n") == kGiB);
    CHECK(parse_max_heap("-Xms256m -Xmx1024m") == 1024 * kMiB);
    CHECK(parse_max_heap("-Xmx2g -XX:+UseG1GC -Xmx3G") == 3 * kGiB);
    CHECK(parse_max_heap("-XX:MaxHeapSize=512m") == 512 * kMiB);
    CHECK_FALSE(parse_max_heap("-Xms256m").has_value());
    CHECK(format_reserved_ports({9443, 9444, 9445, 8243, 9443}) == "8243,9443-9445");
}

// What netsh prints, as Windows 10/11 and Server 2022 print it (CRLF line ends).
constexpr const char* kNetshDynamicEnglish =
    "\r\nProtocol tcp Dynamic Port Range\r\n---------------------------------\r\n"
    "Start Port      : 49152\r\nNumber of Ports : 16384\r\n\r\n";
// German Windows: other labels (and no space before one colon), the same two numbers.
constexpr const char* kNetshDynamicGerman =
    "\r\nProtokoll tcp Dynamischer Portbereich\r\n---------------------------------\r\n"
    "Startport       : 1024\r\nAnzahl der Ports: 64511\r\n\r\n";
constexpr const char* kNetshExcludedEnglish =
    "\r\nProtocol tcp Port Exclusion Ranges\r\n\r\nStart Port    End Port\r\n"
    "----------    --------\r\n      1031        1130\r\n      5357        5357\r\n"
    "      9400        9499\r\n     50000       50059     *\r\n\r\n"
    "* - Administered port exclusions.\r\n\r\n";
// German, in the console's code page 850 ("f\x81r" is "für"): only the digits are read.
constexpr const char* kNetshExcludedGerman =
    "\r\nPortausschlussbereiche f\x81r das Protokoll \"tcp\"\r\n\r\nStartport    Endport\r\n"
    "----------    --------\r\n      1080        1179\r\n      9443        9443     *\r\n\r\n"
    "* - Verwaltete Portausschl\x81sse.\r\n\r\n";

TEST_CASE("netsh's dynamic port range: English and German labels, CRLF; nullopt otherwise") {
    const auto english = parse_netsh_dynamic_ports(kNetshDynamicEnglish);
    REQUIRE(english);
    CHECK(english->first == 49152);
    CHECK(english->last == 65535);
    const auto german = parse_netsh_dynamic_ports(kNetshDynamicGerman);
    REQUIRE(german);
    CHECK(german->first == 1024);
    CHECK(german->last == 65534);
    CHECK(parse_netsh_dynamic_ports("Start Port : 49152\nNumber of Ports : 16384\n")->last ==
          65535);
    CHECK_FALSE(parse_netsh_dynamic_ports("").has_value());
    CHECK_FALSE(parse_netsh_dynamic_ports("Start Port : 49152\r\n").has_value());  // cut short
    CHECK_FALSE(parse_netsh_dynamic_ports("Start Port : 60000\nNumber of Ports : 16384\n"));
    CHECK_FALSE(parse_netsh_dynamic_ports("Start Port : 0\nNumber of Ports : 16384\n"));
    CHECK_FALSE(parse_netsh_dynamic_ports("Start Port : x\nNumber of Ports : y\n"));
    CHECK_FALSE(
        parse_netsh_dynamic_ports("The following command was not found: int ipv4 show.\r\n"));
    CHECK_FALSE(parse_netsh_dynamic_ports("A: 1\nB: 2\nC: 3\n"));  // not the two of the table
}

TEST_CASE("netsh's excluded port ranges: administered ones marked; nullopt when unreadable") {
    const auto english = parse_netsh_excluded_ports(kNetshExcludedEnglish);
    REQUIRE(english);
    REQUIRE(english->size() == 4);
    CHECK(english->at(0).range.first == 1031);
    CHECK(english->at(0).range.last == 1130);
    CHECK_FALSE(english->at(0).administered);
    CHECK(english->at(1).range.first == 5357);
    CHECK(english->at(1).range.last == 5357);
    CHECK(english->at(3).range.first == 50000);
    CHECK(english->at(3).administered);
    const auto german = parse_netsh_excluded_ports(kNetshExcludedGerman);
    REQUIRE(german);
    REQUIRE(german->size() == 2);
    CHECK(german->at(1).range.first == 9443);
    CHECK(german->at(1).administered);
    // No exclusions at all: the table is empty, which is a measurement.
    const auto none = parse_netsh_excluded_ports(
        "\nProtocol tcp Port Exclusion Ranges\n\nStart Port    End Port\n"
        "----------    --------\n\n* - Administered port exclusions.\n");
    REQUIRE(none);
    CHECK(none->empty());
    CHECK_FALSE(parse_netsh_excluded_ports("").has_value());
    CHECK_FALSE(parse_netsh_excluded_ports("      5357        5357\n"));  // no table: no rule
    CHECK_FALSE(parse_netsh_excluded_ports("----  ----\n  5357  lots\n"));
    CHECK_FALSE(parse_netsh_excluded_ports("----  ----\n  5400  5357\n"));
    CHECK_FALSE(parse_netsh_excluded_ports("----  ----\n  1  70000\n"));
    CHECK_FALSE(parse_netsh_excluded_ports("----  ----\n  1  2  3\n"));
}

TEST_CASE("windows: a planned port in the dynamic range warns with netsh's fix") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"}});
    fixture.host.windows = true;
    fixture.host.ephemeral = PortRange{1024, 64511};  // moved down, as Hyper-V setups do
    fixture.host.excluded = std::vector<ExcludedPortRange>{};
    auto report = fixture.run();
    auto warned = findings_of(report, "ephemeral-ports", "a1");
    REQUIRE(warned.size() == 1);
    CHECK(warned[0].level == CheckLevel::Warn);
    CHECK(warned[0].measured.find("dynamic port range 1024-64511") != std::string::npos);
    CHECK(warned[0].fix.find("netsh int ipv4 set dynamicport tcp start=49152 num=16384") !=
          std::string::npos);
    CHECK(warned[0].fix.find("add excludedportrange") != std::string::npos);
    CHECK(warned[0].fix.find("export sysctl") == std::string::npos);
    CHECK(findings_of(report, "excluded-ports")[0].level == CheckLevel::Ok);
    CHECK_FALSE(report.failed());

    // Administered exclusions take ports out of the dynamic range, as reserved ports do on Linux.
    fixture.host.reserved = {{1, 65535}};
    report = fixture.run();
    CHECK(findings_of(report, "ephemeral-ports", "a1").empty());
    CHECK(findings_of(report, "ephemeral-ports")[0].level == CheckLevel::Ok);

    fixture.host.ephemeral.reset();
    fixture.host.ephemeral_error = "netsh.exe did not finish within 5 s";
    const auto unmeasured = findings_of(fixture.run(), "ephemeral-ports");
    REQUIRE(unmeasured.size() == 1);
    CHECK(unmeasured[0].level == CheckLevel::Ok);
    CHECK(unmeasured[0].measured ==
          "the dynamic port range was not measured: netsh.exe did not finish within 5 s");
}

TEST_CASE("windows: a planned port in an excluded range fails, naming the range") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"}, {"a2", "api-manager", "4.4.0"}});
    fixture.host.windows = true;
    fixture.host.ephemeral = PortRange{1024, 64511};
    fixture.host.excluded = parse_netsh_excluded_ports(kNetshExcludedEnglish);  // 9400-9499
    REQUIRE(fixture.host.excluded);
    const auto a1_offset = fixture.instance("a1").plan->offset;
    REQUIRE(a1_offset == 0);
    auto report = fixture.run();
    CHECK(report.failed());
    const auto failed = findings_of(report, "excluded-ports", "a1");
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].level == CheckLevel::Fail);
    CHECK(failed[0].measured.rfind("ports 9443 lie inside the excluded port range 9400-9499", 0) ==
          0);
    CHECK(failed[0].limit.find("forbidden by its access permissions") != std::string::npos);
    CHECK(failed[0].fix.find("net stop winnat") != std::string::npos);
    // 9443 fails once, under excluded-ports; the dynamic range still warns of the others.
    const auto warned = findings_of(report, "ephemeral-ports", "a1");
    REQUIRE(warned.size() == 1);
    CHECK(warned[0].measured.find("9443") == std::string::npos);

    // An administered exclusion keeps the port for whoever binds it: no failure.
    for (auto& excluded : *fixture.host.excluded) {
        excluded.administered = true;
    }
    report = fixture.run();
    CHECK(findings_of(report, "excluded-ports", "a1").empty());
    CHECK(findings_of(report, "excluded-ports")[0].measured.find("4 of them administered") !=
          std::string::npos);

    fixture.host.excluded.reset();
    fixture.host.excluded_error = "netsh.exe exited with code 1";
    report = fixture.run();
    CHECK(findings_of(report, "excluded-ports")[0].measured ==
          "the excluded port ranges were not measured: netsh.exe exited with code 1");
    CHECK_FALSE(report.failed());

    fixture.host.windows = false;  // Linux has no excluded ranges: no line at all
    CHECK(findings_of(fixture.run(), "excluded-ports").empty());
}

TEST_CASE("the planner keeps ports out of the ephemeral range when an offset allows it") {
    CheckFixture fixture(Packs{{"a1", "api-manager", "4.4.0"}, {"a2", "api-manager", "4.4.0"}});
    PlanPreferences preferences;
    preferences.ephemeral = PortRange{4000, 12000};  // covers API-M's ports at low offsets
    const auto plan = plan_offsets(fixture.profiles, {}, EmptyHost(), preferences);
    REQUIRE(plan.ok());
    for (const auto& instance : plan.instances) {
        for (const auto& port : instance.ports) {
            CHECK_FALSE(preferences.exposed(port.port));
        }
    }
    CHECK(plan.instances[0].note.find("ephemeral") != std::string::npos);

    preferences.reserved = {{1, 65535}};  // all reserved: nothing is exposed, offset 0 again
    CHECK(plan_offsets(fixture.profiles, {}, EmptyHost(), preferences).instances[0].offset == 0);
    preferences.reserved.clear();
    preferences.ephemeral = PortRange{1, 65535};  // nothing avoids it: plan as without
    const auto fallback = plan_offsets(fixture.profiles, {}, EmptyHost(), preferences);
    CHECK(fallback.ok());
    CHECK(fallback.instances[0].offset == 0);
}
