#include <doctest/doctest.h>

#include "diagnostics.hpp"
#include "health_spec.hpp"
#include "port_table.hpp"
#include "profile.hpp"
#include "test_support.hpp"

using namespace carbon;
using carbon::test::make_home;
using carbon::test::source_catalog;
using carbon::test::TempDir;
using carbon::test::write_file;

namespace {

constexpr const char* kGatewayHealthCheck = "/api/am/gateway/v2/server-startup-healthcheck";

/// One API-M home at DIR/apim and a profile for it with `extra` fields added.
struct ApimFixture {
    TempDir dir;

    ApimFixture() { make_home(dir / "apim", "api-manager"); }

    std::string profile_text(const std::string& extra) const {
        return R"({"name":"a","runtime":"api-manager","home":")" + (dir / "apim").generic_string() +
               "\"" + (extra.empty() ? "" : "," + extra) + "}";
    }

    Profile load(const std::string& extra) const {
        write_file(dir / "profiles/p.json", profile_text(extra));
        const auto profiles = load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
        REQUIRE(profiles.size() == 1);
        return profiles.front();
    }

    std::vector<Diagnostic> diagnostics(const std::string& extra) const {
        write_file(dir / "profiles/p.json", profile_text(extra));
        try {
            load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
        } catch (const ConfigError& e) {
            return e.diagnostics();
        }
        return {};
    }
};

bool has_diagnostic(const std::vector<Diagnostic>& diagnostics, const std::string& pointer,
                    const std::string& phrase) {
    for (const auto& d : diagnostics) {
        if (d.pointer == pointer && d.message.find(phrase) != std::string::npos) {
            return true;
        }
    }
    for (const auto& d : diagnostics) {
        MESSAGE(d.to_string());
    }
    return false;
}

/// A minimal table with two ports and `probes` as its "probes" section.
std::string table_with_probes(const std::string& probes) {
    return R"({"runtime":"x","ports":[{"key":"web","base":8080},{"key":"tls","base":8443}],)"
           R"("probes":)" +
           probes + "}";
}

std::vector<Diagnostic> table_diagnostics(const std::string& probes) {
    try {
        parse_runtime_table(table_with_probes(probes), "x.json");
    } catch (const ConfigError& e) {
        return e.diagnostics();
    }
    return {};
}

}  // namespace

TEST_CASE("probe kinds and roles have one spelling each") {
    for (const ProbeKind kind : {ProbeKind::Tcp, ProbeKind::Http, ProbeKind::Https}) {
        CHECK(parse_probe_kind(to_string(kind)) == kind);
    }
    CHECK_FALSE(parse_probe_kind("HTTP").has_value());
    CHECK(to_string(ProbeRole::Readiness) == "readiness");
}

TEST_CASE("a pack version is the last dotted number of version.txt") {
    CHECK(parse_pack_version("WSO2 API Manager-4.4.0")->to_string() == "4.4.0");
    CHECK(parse_pack_version("WSO2 API Manager-4.5.0\n")->to_string() == "4.5.0");
    CHECK(parse_pack_version("4.3")->to_string() == "4.3.0");
    CHECK(parse_pack_version("build 12 of 1.2.3, then 4.5.")->to_string() == "4.5.0");
    CHECK_FALSE(parse_pack_version("WSO2 API Manager").has_value());
    CHECK_FALSE(parse_pack_version("release 7").has_value());
    CHECK(*parse_pack_version("4.2.0") < *parse_pack_version("4.10.0"));
}

TEST_CASE("a probe describes itself with its effective port") {
    ProbeSpec probe;
    probe.kind = ProbeKind::Https;
    probe.path = kGatewayHealthCheck;
    CHECK(describe_probe(probe, 9446) ==
          "GET https://localhost:9446/api/am/gateway/v2/server-startup-healthcheck (expects 200)");
    probe.kind = ProbeKind::Tcp;
    CHECK(describe_probe(probe, 9443) == "TCP connect to 127.0.0.1:9443");
}

TEST_CASE("the shipped tables hold WSO2's documented probes") {
    const HealthTable& apim = source_catalog().find("api-manager")->health;
    const HealthSpec all_in_one = resolve_health(apim, "all-in-one", std::nullopt);
    REQUIRE(all_in_one.startup);
    CHECK(all_in_one.startup->kind == ProbeKind::Tcp);
    CHECK(all_in_one.startup->port_key == "https-servlet");
    REQUIRE(all_in_one.readiness);
    CHECK(all_in_one.readiness->kind == ProbeKind::Https);
    CHECK(all_in_one.readiness->port_key == "https-servlet");
    CHECK(all_in_one.readiness->path == kGatewayHealthCheck);
    REQUIRE(all_in_one.liveness);
    CHECK(all_in_one.liveness->kind == ProbeKind::Http);
    CHECK(all_in_one.liveness->port_key == "http-servlet");
    CHECK(all_in_one.liveness->path == "/services/Version");
    CHECK(all_in_one.liveness->interval == std::chrono::seconds(10));
    CHECK(all_in_one.liveness_failure_threshold == 5);
    CHECK(all_in_one.sources.size() == 2);  // the defaults' and the flavour's

    for (const char* flavour : {"control-plane", "traffic-manager", "key-manager"}) {
        CAPTURE(flavour);
        const HealthSpec health = resolve_health(apim, flavour, std::nullopt);
        REQUIRE(health.readiness);
        CHECK(health.readiness->kind == ProbeKind::Http);
        CHECK(health.readiness->port_key == "http-servlet");
        CHECK(health.readiness->path == "/services/Version");
        CHECK(health.liveness_failure_threshold == 3);
    }
    const HealthSpec gateway = resolve_health(apim, "gateway", std::nullopt);
    CHECK(gateway.readiness->path == kGatewayHealthCheck);
    CHECK(gateway.liveness_failure_threshold == 3);

    for (const char* runtime : {"streaming-integrator", "si-tooling"}) {
        CAPTURE(runtime);
        const HealthSpec health =
            resolve_health(source_catalog().find(runtime)->health, "", std::nullopt);
        for (const ProbeRole role : kProbeRoles) {
            REQUIRE(health.probe(role));
            CHECK(health.probe(role)->kind == ProbeKind::Tcp);
            CHECK(health.probe(role)->port_key == "https");
        }
    }
}

TEST_CASE("the flavour follows -Dprofile first, then the start script's name") {
    const HealthTable& apim = source_catalog().find("api-manager")->health;
    CHECK(detect_flavour(apim, "/opt/am/bin/api-manager.sh", {}) == "all-in-one");
    CHECK(detect_flavour(apim, "/opt/am/bin/gateway.sh", {}) == "gateway");
    CHECK(detect_flavour(apim, "C:/am/bin/api-cp.bat", {}) == "control-plane");
    CHECK(detect_flavour(apim, "/opt/am/bin/traffic-manager.sh", {}) == "traffic-manager");
    CHECK(detect_flavour(apim, "/opt/am/bin/key-manager.sh", {}) == "key-manager");
    CHECK(detect_flavour(apim, "/opt/am/bin/api-manager.sh",
                         {"--optimize", "-Dprofile=control-plane"}) == "control-plane");
    CHECK(detect_flavour(apim, "/opt/am/bin/api-manager.sh", {"-Dprofile=gateway-worker"}) ==
          "gateway");
    CHECK(detect_flavour(apim, "/opt/am/bin/my-start.sh", {"-Dprofile=unknown"}).empty());
}

TEST_CASE("API-M before 4.3.0 is made ready by /services/Version, not the gateway check") {
    const HealthTable& apim = source_catalog().find("api-manager")->health;
    for (const char* version : {"4.0.0", "4.1.0", "4.2.0"}) {
        CAPTURE(version);
        for (const char* flavour : {"all-in-one", "gateway", ""}) {
            CAPTURE(flavour);
            const HealthSpec health = resolve_health(apim, flavour, parse_pack_version(version));
            CHECK(health.readiness->kind == ProbeKind::Http);
            CHECK(health.readiness->path == "/services/Version");
            CHECK(health.readiness->timeout == std::chrono::seconds(5));  // kept from defaults
        }
    }
    for (const char* version : {"4.3.0", "4.4.0", "4.7.0"}) {
        CAPTURE(version);
        const HealthSpec health = resolve_health(apim, "gateway", parse_pack_version(version));
        CHECK(health.readiness->path == kGatewayHealthCheck);
    }
}

TEST_CASE("a version range may name the flavours it applies to") {
    const RuntimeTable table = parse_runtime_table(table_with_probes(R"({
        "readiness": {"kind": "https", "port": "tls", "path": "/ready"},
        "flavours": [{"name": "edge", "scripts": ["edge"]}, {"name": "core", "scripts": ["core"]}],
        "versions": [{"from": "2.0", "before": "2.1", "flavours": ["edge"],
                      "readiness": "off", "sources": "bug 42"}]})"),
                                                   "x.json");
    const auto v2 = parse_pack_version("2.0.5");
    CHECK_FALSE(resolve_health(table.health, "edge", v2).readiness.has_value());
    CHECK(resolve_health(table.health, "edge", v2).sources.back() == "bug 42");
    CHECK(resolve_health(table.health, "core", v2).readiness.has_value());
    CHECK(resolve_health(table.health, "edge", parse_pack_version("2.1.0")).readiness);
    CHECK(resolve_health(table.health, "edge", std::nullopt).readiness);
}

TEST_CASE("a profile gets its flavour's and version's probes") {
    ApimFixture fixture;
    const Profile plain = fixture.load("");
    CHECK(plain.health.flavour == "all-in-one");
    CHECK_FALSE(plain.health.pack_version.has_value());
    CHECK(plain.health.readiness->path == kGatewayHealthCheck);
    CHECK(plain.probe_port(*plain.health.readiness, 3) == 9446);
    CHECK(plain.probe_port(*plain.health.liveness, 3) == 9766);

    write_file(fixture.dir / "apim/bin/version.txt", "WSO2 API Manager-4.2.0");
    const Profile old = fixture.load("");
    REQUIRE(old.health.pack_version);
    CHECK(old.health.pack_version->to_string() == "4.2.0");
    CHECK(old.health.readiness->path == "/services/Version");

    const Profile control_plane = fixture.load(R"("args":["-Dprofile=control-plane"])");
    CHECK(control_plane.health.flavour == "control-plane");

    write_file(fixture.dir / "apim/bin/gateway.sh", "#!/bin/sh\n");
    const Profile gateway = fixture.load(R"("script":"bin/gateway.sh")");
    CHECK(gateway.health.flavour == "gateway");
    CHECK(gateway.health.liveness_failure_threshold == 3);

    const Profile named = fixture.load(R"("health":{"flavour":"key-manager"})");
    CHECK(named.health.flavour == "key-manager");
}

TEST_CASE("a profile overrides single fields of a probe or turns it off") {
    ApimFixture fixture;
    const Profile off = fixture.load(R"("health":{"readiness":"off","startup":"off"})");
    CHECK_FALSE(off.health.readiness.has_value());
    CHECK_FALSE(off.health.startup.has_value());
    CHECK(off.health.liveness.has_value());
    CHECK(off.health.sources.back() == "profile p.json");

    const Profile tuned = fixture.load(
        R"("health":{"liveness":{"interval_s":5,"failure_threshold":2,"timeout_s":3}})");
    REQUIRE(tuned.health.liveness);
    CHECK(tuned.health.liveness->interval == std::chrono::seconds(5));
    CHECK(tuned.health.liveness->timeout == std::chrono::seconds(3));
    CHECK(tuned.health.liveness->path == "/services/Version");  // kept
    CHECK(tuned.health.liveness_failure_threshold == 2);

    const Profile tcp = fixture.load(R"("health":{"readiness":{"kind":"tcp"}})");
    CHECK(tcp.health.readiness->kind == ProbeKind::Tcp);
    CHECK(tcp.health.readiness->path.empty());

    // The fix of wso2/api-manager#1996 in an updated 4.2.0 pack: restore the health check.
    write_file(fixture.dir / "apim/bin/version.txt", "WSO2 API Manager-4.2.0");
    const Profile restored = fixture.load(
        R"("health":{"readiness":{"kind":"https","port":"https-servlet",)"
        R"("path":"/api/am/gateway/v2/server-startup-healthcheck","expected_status":200}})");
    CHECK(restored.health.readiness->path == kGatewayHealthCheck);
    CHECK(restored.health.readiness->port_key == "https-servlet");

    // A port the profile adds can be probed.
    const Profile custom = fixture.load(
        R"("ports":{"my-api":{"base":12000}},"health":{"liveness":{"kind":"tcp","port":"my-api"}})");
    CHECK(custom.probe_port(*custom.health.liveness, 5) == 12005);
}

TEST_CASE("a bad health setting names the field, the problem and the fix") {
    struct Case {
        const char* what;
        const char* health;
        const char* pointer;
        const char* phrase;
    };
    const Case cases[] = {
        {"not an object", R"("health":"off")", "/health", "expected an object"},
        {"unknown probe", R"("health":{"readyness":"off"})", "/health/readyness",
         "did you mean \"readiness\""},
        {"false instead of off", R"("health":{"readiness":false})", "/health/readiness",
         "write \"off\""},
        {"a word that is not off", R"("health":{"liveness":"no"})", "/health/liveness",
         "write \"off\""},
        {"unknown kind", R"("health":{"readiness":{"kind":"htps"}})", "/health/readiness/kind",
         "did you mean \"https\""},
        {"unknown port", R"("health":{"liveness":{"port":"http-servelt"}})",
         "/health/liveness/port", "did you mean \"http-servlet\""},
        {"relative path", R"("health":{"liveness":{"path":"services/Version"}})",
         "/health/liveness/path", "not a request path"},
        {"path with a line break", R"("health":{"liveness":{"path":"/a\r\nX-Evil: 1"}})",
         "/health/liveness/path", "no spaces or control characters"},
        {"threshold on readiness", R"("health":{"readiness":{"failure_threshold":2}})",
         "/health/readiness/failure_threshold", "only the liveness probe"},
        {"tcp with a path", R"("health":{"startup":{"kind":"tcp","path":"/x"}})",
         "/health/startup/path", "sends no request"},
        {"http without a path", R"("health":{"startup":{"kind":"http"}})", "/health/startup",
         "has no \"path\""},
        {"timeout zero", R"("health":{"liveness":{"timeout_s":0}})", "/health/liveness/timeout_s",
         "out of range"},
        {"status out of range", R"("health":{"liveness":{"expected_status":700}})",
         "/health/liveness/expected_status", "out of range"},
        {"interval misspelt", R"("health":{"liveness":{"interval":5}})",
         "/health/liveness/interval", "did you mean \"interval_s\""},
        {"unknown flavour", R"("health":{"flavour":"gatway"})", "/health/flavour",
         "did you mean \"gateway\""},
        {"interval a string", R"("health":{"liveness":{"interval_s":"5"}})",
         "/health/liveness/interval_s", "expected an integer"},
    };
    ApimFixture fixture;
    for (const auto& c : cases) {
        CAPTURE(c.what);
        const auto diagnostics = fixture.diagnostics(c.health);
        REQUIRE_FALSE(diagnostics.empty());
        CHECK(diagnostics.front().file == fixture.dir / "profiles/p.json");
        CHECK(has_diagnostic(diagnostics, c.pointer, c.phrase));
    }
}

TEST_CASE("a runtime without flavours refuses a profile's flavour") {
    TempDir dir;
    make_home(dir / "si", "streaming-integrator");
    write_file(dir / "profiles/p.json",
               R"({"name":"si","runtime":"streaming-integrator","home":")" +
                   (dir / "si").generic_string() + R"(","health":{"flavour":"gateway"}})");
    try {
        load_profiles(dir / "profiles", source_catalog(), Platform::Linux);
        FAIL("the profile loaded");
    } catch (const ConfigError& e) {
        CHECK(has_diagnostic(e.diagnostics(), "/health/flavour", "has no flavours"));
    }
}

TEST_CASE("a bad probes section of a table names the file and the field") {
    struct Case {
        const char* what;
        const char* probes;
        const char* pointer;
        const char* phrase;
    };
    const Case cases[] = {
        {"not an object", R"([1])", "/probes", "expected an object"},
        {"unknown port", R"({"startup":{"kind":"tcp","port":"webb"}})", "/probes/startup/port",
         "did you mean \"web\""},
        {"http without a path", R"({"readiness":{"kind":"http","port":"web"}})", "/probes",
         "the defaults: the readiness probe is http but has no \"path\""},
        {"no port", R"({"liveness":{"kind":"tcp"}})", "/probes", "names no port"},
        {"flavour leaves no path",
         R"({"readiness":{"kind":"tcp","port":"web"},)"
         R"("flavours":[{"name":"edge","readiness":{"kind":"https"}}]})",
         "/probes", "flavour \"edge\": the readiness probe is https"},
        {"flavour twice", R"({"flavours":[{"name":"edge"},{"name":"edge"}]})",
         "/probes/flavours/1/name", "listed twice"},
        {"flavour without a name", R"({"flavours":[{"scripts":["edge"]}]})",
         "/probes/flavours/0/name", "required field is missing"},
        {"empty range", R"({"versions":[{"from":"4.3.0","before":"4.3.0"}]})",
         "/probes/versions/0/before", "the range is empty"},
        {"range without bounds", R"({"versions":[{"readiness":"off"}]})", "/probes/versions/0",
         "needs \"from\""},
        {"bad version", R"({"versions":[{"from":"4.x"}]})", "/probes/versions/0/from",
         "not a version"},
        {"range of an unknown flavour",
         R"({"flavours":[{"name":"edge"}],"versions":[{"from":"1.0","flavours":["edg"]}]})",
         "/probes/versions/0/flavours/0", "did you mean \"edge\""},
        {"range leaves no path",
         R"({"readiness":{"kind":"tcp","port":"web"},)"
         R"("versions":[{"from":"1.0","readiness":{"kind":"http"}}]})",
         "/probes", "for versions 1.0.0 and later: the readiness probe is http"},
        {"unknown key", R"({"liveness":{"kind":"tcp","port":"web"},"flavors":[]})",
         "/probes/flavors", "did you mean \"flavours\""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        const auto diagnostics = table_diagnostics(c.probes);
        REQUIRE_FALSE(diagnostics.empty());
        CHECK(diagnostics.front().file == "x.json");
        CHECK(has_diagnostic(diagnostics, c.pointer, c.phrase));
    }
}

TEST_CASE("a table without probes leaves every probe off") {
    const RuntimeTable table =
        parse_runtime_table(R"({"runtime":"x","ports":[{"key":"web","base":8080}]})", "x.json");
    const HealthSpec health = resolve_health(table.health, "", std::nullopt);
    for (const ProbeRole role : kProbeRoles) {
        CHECK_FALSE(health.probe(role).has_value());
    }
    CHECK(health.sources.empty());
}
