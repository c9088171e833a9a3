#include <doctest/doctest.h>
#include "toml_parser.hpp"

#include <map>
#include <set>
#include <sstream>

#include "diagnostics.hpp"
#include "offset_planner.hpp"
#include "profile.hpp"
#include "split_wiring.hpp"
#include "test_support.hpp"
#include "text_lines.hpp"

using namespace carbon;
using carbon::test::read_file;
using carbon::test::source_catalog;
using carbon::test::TempDir;
using carbon::test::write_file;

namespace {

// A gateway's deployment.toml of the project's own, shaped like the 4.7 pack's: the peer tables
// commented out with localhost's default ports.
const char* kSmallGatewayToml =
    "[server]\n"
    "hostname = \"localhost\"\n"
    "\n"
    "#[apim.key_manager]\n"
    "#service_url = \"https://localhost:9443/services/\"\n"
    "\n"
    "#[apim.event_hub]\n"
    "#enable = true\n"
    "#service_url = \"https://localhost:9443/services/\"\n"
    "#event_listening_endpoints = [\"tcp://localhost:5672\"]\n"
    "\n"
    "#[apim.throttling]\n"
    "#throttle_decision_endpoints = [\"tcp://localhost:5672\"]\n"
    "\n"
    "#[[apim.throttling.url_group]]\n"
    "#traffic_manager_urls = [\"tcp://localhost:9611\"]\n"
    "#traffic_manager_auth_urls = [\"ssl://localhost:9711\"]\n"
    "\n"
    "[apim.analytics]\n"
    "enable = false\n";

const char* kSmallControlPlaneToml =
    "[server]\n"
    "hostname = \"localhost\"\n"
    "\n"
    "[[apim.gateway.environment]]\n"
    "name = \"Default\"\n"
    "service_url = \"https://localhost:9443/services/\"\n"
    "ws_endpoint = \"ws://localhost:9099\"\n"
    "wss_endpoint = \"wss://localhost:8099\"\n"
    "http_endpoint = \"http://localhost:8280\"\n"
    "https_endpoint = \"https://localhost:8243\"\n"
    "\n"
    "[apim.cors]\n"
    "allow_origins = \"*\"\n";

const char* kSmallTrafficManagerToml =
    "[server]\n"
    "hostname = \"localhost\"\n";

/// A profiles directory of split packs: a home per instance with its start script and its
/// repository/conf/deployment.toml, and a profile with an explicit offset.
class SplitFleet {
  public:
    void add(const std::string& name, const std::string& script, int offset,
             const std::string& toml, const std::string& extra_fields = "") {
        const auto home = dir_ / ("homes/" + name);
        write_file(home / ("bin/" + script + ".sh"), "#!/bin/sh\n");
        write_file(home / "repository/conf/deployment.toml", toml);
        write_file(dir_ / ("profiles/" + name + ".json"),
                   R"({"name": ")" + name + R"(", "runtime": "api-manager", "home": ")" +
                       home.generic_string() + R"(", "offset": )" + std::to_string(offset) +
                       extra_fields + "}");
    }

    /// The diagnostics of loading the set (empty when it loads).
    std::vector<Diagnostic> errors() {
        try {
            load();
        } catch (const ConfigError& e) {
            return e.diagnostics();
        }
        return {};
    }

    const std::vector<Profile>& load() {
        profiles_ = load_profiles(dir_ / "profiles", source_catalog(), Platform::Linux);
        return profiles_;
    }

    const Plan& plan() {
        load();
        plan_ = plan_offsets(profiles_, {}, EmptyHost());
        REQUIRE(plan_.ok());
        return plan_;
    }

    const Profile& profile(const std::string& name) const {
        for (const auto& profile : profiles_) {
            if (profile.name == name) {
                return profile;
            }
        }
        FAIL("no profile " << name);
        throw std::logic_error("unreachable");
    }

    std::filesystem::path toml_of(const std::string& name) const {
        return dir_ / ("homes/" + name + "/repository/conf/deployment.toml");
    }

  private:
    TempDir dir_;
    std::vector<Profile> profiles_;
    Plan plan_;
};

const WiringTarget* find_target(const std::vector<WiringTarget>& targets,
                                const std::string& setting) {
    for (const auto& target : targets) {
        if (target.setting() == setting) {
            return &target;
        }
    }
    return nullptr;
}

WiringValue wanted_of(const std::vector<WiringTarget>& targets, const std::string& setting) {
    const WiringTarget* target = find_target(targets, setting);
    REQUIRE_MESSAGE(target != nullptr, "no target " << setting);
    return target->wanted;
}

using Urls = std::vector<std::string>;

bool mentions(const std::vector<Diagnostic>& diagnostics, const std::string& pointer,
              const std::string& phrase) {
    for (const auto& d : diagnostics) {
        if (d.pointer == pointer && d.message.find(phrase) != std::string::npos) {
            return true;
        }
    }
    return false;
}

std::string describe(const std::vector<Diagnostic>& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) {
        text += d.to_string() + "\n";
    }
    return text;
}

/// Every value of a TOML tree by path (arrays of tables by element), as text.
void flatten(const toml::node& node, const std::string& path,
             std::map<std::string, std::string>& out) {
    if (const auto* table = node.as_table()) {
        for (const auto& [key, value] : *table) {
            flatten(value,
                    path.empty() ? std::string(key.str()) : path + "." + std::string(key.str()),
                    out);
        }
        return;
    }
    if (const auto* array = node.as_array(); array != nullptr && array->is_array_of_tables()) {
        for (std::size_t i = 0; i < array->size(); ++i) {
            flatten((*array)[i], path + "[" + std::to_string(i) + "]", out);
        }
        return;
    }
    std::ostringstream text;
    node.visit([&text](const auto& typed) { text << typed; });
    out[path] = text.str();
}

std::string tree_path(const WiringTarget& target) {
    std::string path;
    for (const auto& segment : target.place.table) {
        path += (path.empty() ? "" : ".") + segment;
    }
    if (target.place.array_of_tables) {
        path += "[" + std::to_string(target.place.element) + "]";
    }
    return path + "." + target.spec->key;
}

/// The lines a minimal line diff removes ("-...") and adds ("+..."): a longest common
/// subsequence, fine for config files of a few hundred lines.
std::vector<std::string> changed_lines(const std::string& before, const std::string& after) {
    std::vector<std::string> a;
    std::vector<std::string> b;
    for (const auto& line : split_lines(before)) {
        a.push_back(line.content);
    }
    for (const auto& line : split_lines(after)) {
        b.push_back(line.content);
    }
    std::vector<std::vector<std::size_t>> common(a.size() + 1,
                                                 std::vector<std::size_t>(b.size() + 1, 0));
    for (std::size_t i = a.size(); i-- > 0;) {
        for (std::size_t j = b.size(); j-- > 0;) {
            common[i][j] = a[i] == b[j] ? common[i + 1][j + 1] + 1
                                        : std::max(common[i + 1][j], common[i][j + 1]);
        }
    }
    std::vector<std::string> changes;
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < a.size() || j < b.size()) {
        if (i < a.size() && j < b.size() && a[i] == b[j]) {
            ++i;
            ++j;
        } else if (j < b.size() && (i == a.size() || common[i][j + 1] >= common[i + 1][j])) {
            changes.push_back("+" + b[j++]);
        } else {
            changes.push_back("-" + a[i++]);
        }
    }
    return changes;
}

int url_port_of(const std::string& url) {
    const auto colon = url.rfind(':');
    return std::stoi(url.substr(colon + 1));
}

}  // namespace

TEST_CASE("the runtime table names the role of each start script") {
    const SplitTable& split = source_catalog().find("api-manager")->split;
    CHECK(split.role_of_script("api-manager") == SplitRole::AllInOne);
    CHECK(split.role_of_script("api-cp") == SplitRole::ControlPlane);
    CHECK(split.role_of_script("gateway") == SplitRole::Gateway);
    CHECK(split.role_of_script("traffic-manager") == SplitRole::TrafficManager);
    CHECK(split.role_of_script("key-manager") == SplitRole::KeyManager);
    CHECK_FALSE(split.role_of_script("server"));
    CHECK(source_catalog().find("streaming-integrator")->split.empty());
    for (const SplitRole role : {SplitRole::ControlPlane, SplitRole::Gateway,
                                 SplitRole::TrafficManager, SplitRole::KeyManager}) {
        REQUIRE(split.find(role) != nullptr);
        CHECK_FALSE(split.find(role)->settings.empty());
        CHECK(split.find(role)->sources.find("wso2/helm-apim") != std::string::npos);
    }
}

TEST_CASE("a profile takes its role from the script, or from \"role\"") {
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("gw", "gateway", 2, kSmallGatewayToml);
    fleet.add("own", "api-manager", 4, kSmallTrafficManagerToml, R"(, "role": "traffic-manager")");
    fleet.load();
    CHECK(fleet.profile("acp").role == SplitRole::ControlPlane);
    CHECK(fleet.profile("gw").role == SplitRole::Gateway);
    CHECK(fleet.profile("own").role == SplitRole::TrafficManager);
}

TEST_CASE("default pairing: every gateway and traffic manager to the one control plane") {
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("tm", "traffic-manager", 1, kSmallTrafficManagerToml);
    fleet.add("gw-1", "gateway", 2, kSmallGatewayToml);
    fleet.add("gw-2", "gateway", 3, kSmallGatewayToml);
    fleet.load();
    const SplitPeers& gateway = fleet.profile("gw-1").peers;
    CHECK(gateway.control_plane == "acp");
    CHECK(gateway.key_manager == "acp");  // the control plane is its own key manager
    CHECK(gateway.traffic_managers == std::vector<std::string>{"tm"});
    CHECK(fleet.profile("tm").peers.control_plane == "acp");
    CHECK(fleet.profile("acp").peers.gateways == std::vector<std::string>{"gw-1", "gw-2"});
    CHECK(fleet.profile("acp").peers.key_manager == "acp");
    SUBCASE("the default order: control plane, then traffic managers, then gateways") {
        CHECK(fleet.profile("gw-1").after == std::vector<std::string>{"acp", "tm"});
        CHECK(fleet.profile("tm").after == std::vector<std::string>{"acp"});
        CHECK(fleet.profile("acp").after.empty());
    }
}

TEST_CASE("without a traffic-manager pack the gateway throttles through the control plane") {
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("gw", "gateway", 2, kSmallGatewayToml);
    fleet.load();
    CHECK(fleet.profile("gw").peers.traffic_managers == std::vector<std::string>{"acp"});
    CHECK(fleet.profile("gw").after == std::vector<std::string>{"acp"});
}

TEST_CASE("a key-manager pack serves its control plane's gateways and traffic managers") {
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("km", "key-manager", 5, kSmallTrafficManagerToml);
    fleet.add("tm", "traffic-manager", 1, kSmallTrafficManagerToml);
    fleet.add("gw", "gateway", 2, kSmallGatewayToml);
    fleet.load();
    CHECK(fleet.profile("gw").peers.key_manager == "km");
    CHECK(fleet.profile("tm").peers.key_manager == "km");
    CHECK(fleet.profile("acp").peers.key_manager == "km");
    CHECK(fleet.profile("km").peers.control_plane == "acp");
    CHECK(fleet.profile("gw").after == std::vector<std::string>{"acp", "km", "tm"});
    CHECK(fleet.profile("km").after == std::vector<std::string>{"acp"});
}

TEST_CASE("an explicit \"connect\" and \"after\" win over the defaults") {
    SplitFleet fleet;
    fleet.add("acp-1", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("acp-2", "api-cp", 10, kSmallControlPlaneToml);
    fleet.add("tm-1", "traffic-manager", 1, kSmallTrafficManagerToml,
              R"(, "connect": {"control_plane": "acp-1"})");
    fleet.add("tm-2", "traffic-manager", 11, kSmallTrafficManagerToml,
              R"(, "connect": {"control_plane": "acp-2"})");
    fleet.add("gw-1", "gateway", 2, kSmallGatewayToml,
              R"(, "connect": {"control_plane": "acp-1"}, "after": [])");
    fleet.add("gw-2", "gateway", 12, kSmallGatewayToml,
              R"(, "connect": {"control_plane": "acp-2", "traffic_managers": ["tm-2", "tm-1"]})");
    REQUIRE_MESSAGE(fleet.errors().empty(), describe(fleet.errors()));
    CHECK(fleet.profile("gw-1").peers.traffic_managers == std::vector<std::string>{"tm-1"});
    CHECK(fleet.profile("gw-1").after.empty());
    CHECK(fleet.profile("gw-2").peers.traffic_managers == std::vector<std::string>{"tm-2", "tm-1"});
    CHECK(fleet.profile("acp-2").peers.gateways == std::vector<std::string>{"gw-2"});
}

TEST_CASE("\"connect\" is validated like \"after\": file, field, what is wrong, the fix") {
    SplitFleet fleet;
    fleet.add("acp-1", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("tm-1", "traffic-manager", 1, kSmallTrafficManagerToml);
    SUBCASE("an unknown name, with a suggestion") {
        fleet.add("gw", "gateway", 2, kSmallGatewayToml,
                  R"(, "connect": {"control_plane": "acp1"})");
        const auto errors = fleet.errors();
        CHECK_MESSAGE(mentions(errors, "/connect/control_plane",
                               "no instance named \"acp1\"; did you mean \"acp-1\"?"),
                      describe(errors));
        CHECK(errors.front().file.filename() == "gw.json");
    }
    SUBCASE("a peer of the wrong role") {
        fleet.add("gw", "gateway", 2, kSmallGatewayToml,
                  R"(, "connect": {"control_plane": "tm-1", "traffic_managers": ["gw"]})");
        const auto errors = fleet.errors();
        CHECK_MESSAGE(
            mentions(errors, "/connect/control_plane",
                     "\"tm-1\" is a traffic manager (bin/traffic-manager.sh), not a "
                     "control plane (bin/api-cp.sh); name a control plane (bin/api-cp.sh): acp-1"),
            describe(errors));
        CHECK_MESSAGE(mentions(errors, "/connect/traffic_managers/0", "is this instance itself"),
                      describe(errors));
    }
    SUBCASE("a field the role has no setting for") {
        fleet.add("km", "key-manager", 5, kSmallTrafficManagerToml,
                  R"(, "connect": {"traffic_managers": ["tm-1"]})");
        CHECK(mentions(fleet.errors(), "/connect/traffic_managers",
                       "a key manager (bin/key-manager.sh) has no setting that points at a "
                       "traffic manager"));
    }
    SUBCASE("an unknown field") {
        fleet.add("gw", "gateway", 2, kSmallGatewayToml,
                  R"(, "connect": {"control_plan": "acp-1"})");
        CHECK(mentions(fleet.errors(), "/connect/control_plan", "did you mean \"control_plane\""));
    }
    SUBCASE("a name given twice") {
        fleet.add("gw", "gateway", 2, kSmallGatewayToml,
                  R"(, "connect": {"traffic_managers": ["tm-1", "tm-1"]})");
        CHECK(mentions(fleet.errors(), "/connect/traffic_managers/1", "named twice"));
    }
    SUBCASE("two control planes and no choice: ambiguous") {
        fleet.add("acp-2", "api-cp", 10, kSmallControlPlaneToml);
        fleet.add("gw", "gateway", 2, kSmallGatewayToml);
        const auto errors = fleet.errors();
        CHECK_MESSAGE(mentions(errors, "/connect",
                               "2 control planes (acp-1, acp-2) could serve a gateway "
                               "(bin/gateway.sh); name one: \"connect\": {\"control_plane\": "
                               "\"acp-1\"}"),
                      describe(errors));
    }
    SUBCASE("\"connect\" on an all-in-one pack") {
        fleet.add("aio", "api-manager", 20, kSmallTrafficManagerToml,
                  R"(, "connect": {"control_plane": "acp-1"})");
        CHECK(mentions(fleet.errors(), "/connect", "only the packs of a split API-M deployment"));
    }
    SUBCASE("an unknown role") {
        fleet.add("gw", "gateway", 2, kSmallGatewayToml, R"(, "role": "gatway")");
        CHECK(mentions(fleet.errors(), "/role", "did you mean \"gateway\""));
    }
}

TEST_CASE("a pack without a control plane in the directory is left unpaired, and told so") {
    SplitFleet fleet;
    fleet.add("gw", "gateway", 2, kSmallGatewayToml);
    REQUIRE(fleet.errors().empty());
    const Plan& plan = fleet.plan();
    CHECK(wanted_wiring(plan, *plan.find("gw")).empty());
    CHECK(fleet.profile("gw").after.empty());
    const auto review = review_wiring(plan, *plan.find("gw"));
    REQUIRE(review.warnings.size() == 1);
    CHECK(review.warnings.front().find("no control plane in this directory to connect to") !=
          std::string::npos);
    SUBCASE("\"connect\": false says it is wired by hand: no warning") {
        fleet.add("gw", "gateway", 2, kSmallGatewayToml, R"(, "connect": false)");
        const Plan& again = fleet.plan();
        CHECK(review_wiring(again, *again.find("gw")).warnings.empty());
    }
    SUBCASE("naming a control plane that is not there is an error") {
        fleet.add("gw", "gateway", 2, kSmallGatewayToml,
                  R"(, "connect": {"control_plane": "acp"})");
        CHECK(mentions(fleet.errors(), "/connect/control_plane",
                       "no instance named \"acp\"; there is none in this directory: add its "
                       "profile"));
    }
}

TEST_CASE("peer URLs point at each peer's effective port on its host") {
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("tm", "traffic-manager", 1, kSmallTrafficManagerToml);
    fleet.add("gw", "gateway", 2, kSmallGatewayToml);
    const Plan& plan = fleet.plan();
    const auto gateway = wanted_wiring(plan, *plan.find("gw"));
    CHECK(wanted_of(gateway, "[apim.key_manager] service_url") ==
          WiringValue("https://localhost:9443/services/"));
    CHECK(wanted_of(gateway, "[apim.throttling] service_url") ==
          WiringValue("https://localhost:9444/services/"));
    CHECK(wanted_of(gateway, "[apim.throttling] throttle_decision_endpoints") ==
          WiringValue(Urls{"tcp://localhost:5673"}));
    CHECK(wanted_of(gateway, "[[apim.throttling.url_group]] #1 traffic_manager_urls") ==
          WiringValue(Urls{"tcp://localhost:9612"}));
    CHECK(wanted_of(gateway, "[[apim.throttling.url_group]] #1 traffic_manager_auth_urls") ==
          WiringValue(Urls{"ssl://localhost:9712"}));
    CHECK(wanted_of(gateway, "[apim.event_hub] enable") == WiringValue(true));
    CHECK(wanted_of(gateway, "[apim.event_hub] event_listening_endpoints") ==
          WiringValue(Urls{"tcp://localhost:5672"}));
    const auto control_plane = wanted_wiring(plan, *plan.find("acp"));
    CHECK(wanted_of(control_plane, "[[apim.gateway.environment]] #1 https_endpoint") ==
          WiringValue("https://localhost:8245"));
    CHECK(wanted_of(control_plane, "[[apim.gateway.environment]] #1 ws_endpoint") ==
          WiringValue("ws://localhost:9101"));
    CHECK(wanted_of(control_plane, "[[apim.gateway.environment]] #1 service_url") ==
          WiringValue("https://localhost:9445/services/"));
    const auto* key_manager = find_target(control_plane, "[apim.key_manager] service_url");
    REQUIRE(key_manager != nullptr);
    CHECK(key_manager->self);  // its own key manager: the pack's default, not added
    const auto traffic_manager = wanted_wiring(plan, *plan.find("tm"));
    CHECK(wanted_of(traffic_manager, "[apim.oauth_config] revoke_endpoint") ==
          WiringValue("https://localhost:9443/oauth2/revoke"));
}

TEST_CASE("a peer's \"host\" goes into the URL; two traffic managers make two url groups") {
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, kSmallControlPlaneToml, R"(, "host": "cp.example.internal")");
    fleet.add("tm-1", "traffic-manager", 1, kSmallTrafficManagerToml);
    fleet.add("tm-2", "traffic-manager", 3, kSmallTrafficManagerToml, R"(, "host": "::1")");
    fleet.add("gw", "gateway", 2, kSmallGatewayToml);
    const Plan& plan = fleet.plan();
    const auto gateway = wanted_wiring(plan, *plan.find("gw"));
    CHECK(wanted_of(gateway, "[apim.event_hub] service_url") ==
          WiringValue("https://cp.example.internal:9443/services/"));
    CHECK(wanted_of(gateway, "[apim.throttling] throttle_decision_endpoints") ==
          WiringValue(Urls{"tcp://localhost:5673", "tcp://[::1]:5675"}));
    CHECK(wanted_of(gateway, "[[apim.throttling.url_group]] #2 traffic_manager_urls") ==
          WiringValue(Urls{"tcp://[::1]:9614"}));
    const auto* group =
        find_target(gateway, "[[apim.throttling.url_group]] #2 traffic_manager_urls");
    CHECK(group->elements == 2);
    CHECK(group->peers == std::vector<std::string>{"tm-2"});

    const std::string text = read_file(fleet.toml_of("gw"));
    const std::string patched = patch_wiring(plan, *plan.find("gw"), text, fleet.toml_of("gw"));
    const toml::table tree = toml::parse(patched);
    const auto* groups = tree["apim"]["throttling"]["url_group"].as_array();
    REQUIRE(groups != nullptr);
    REQUIRE(groups->size() == 2);
    CHECK(
        (*groups)[1].as_table()->at_path("traffic_manager_auth_urls[0]").value_or(std::string()) ==
        "ssl://[::1]:9714");
}

TEST_CASE("the small gateway file: minimal diff, verified, idempotent") {
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("tm", "traffic-manager", 1, kSmallTrafficManagerToml);
    fleet.add("gw", "gateway", 2, kSmallGatewayToml);
    const Plan& plan = fleet.plan();
    const std::string patched =
        patch_wiring(plan, *plan.find("gw"), kSmallGatewayToml, fleet.toml_of("gw"));
    CHECK(patched ==
          "[server]\n"
          "hostname = \"localhost\"\n"
          "\n"
          "[apim.key_manager]\n"
          "service_url = \"https://localhost:9443/services/\"\n"
          "\n"
          "[apim.event_hub]\n"
          "enable = true\n"
          "service_url = \"https://localhost:9443/services/\"\n"
          "event_listening_endpoints = [\"tcp://localhost:5672\"]\n"
          "\n"
          "[apim.throttling]\n"
          "service_url = \"https://localhost:9444/services/\"\n"
          "throttle_decision_endpoints = [\"tcp://localhost:5673\"]\n"
          "\n"
          "[[apim.throttling.url_group]]\n"
          "traffic_manager_urls = [\"tcp://localhost:9612\"]\n"
          "traffic_manager_auth_urls = [\"ssl://localhost:9712\"]\n"
          "\n"
          "[apim.analytics]\n"
          "enable = false\n");
    CHECK(patch_wiring(plan, *plan.find("gw"), patched, fleet.toml_of("gw")) == patched);
    const auto review = decide_wiring(*plan.find("gw"), wanted_wiring(plan, *plan.find("gw")),
                                      patched, fleet.toml_of("gw"));
    CHECK_FALSE(review.needed());
}

TEST_CASE("line endings, a missing final newline and trailing comments are kept") {
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("tm", "traffic-manager", 1,
              "[server]\r\nhostname = \"localhost\"\r\n\r\n[apim.event_hub]\r\n"
              "service_url = \"https://localhost:9443/services/\"  # the control plane\r\n"
              "event_listening_endpoints = [\r\n  \"tcp://localhost:5672\",\r\n]\r\nenable = true");
    fleet.add("gw", "gateway", 2, kSmallGatewayToml);
    SUBCASE("already right at offset 0: nothing but the absent tables") {
        const Plan& plan = fleet.plan();
        const std::string text = read_file(fleet.toml_of("tm"));
        const std::string patched = patch_wiring(plan, *plan.find("tm"), text, fleet.toml_of("tm"));
        CHECK(patched.rfind(text.substr(0, text.size() - 4), 0) == 0);  // only appended
        CHECK(patched.find("enable = true\r\n\r\n[apim.key_manager]\r\nservice_url = ") !=
              std::string::npos);
        CHECK(patched.back() != '\n');  // the file had no final newline: neither has the edit
    }
    SUBCASE("the control plane at offset 7: values change in place, a multi-line array too") {
        fleet.add("acp", "api-cp", 7, kSmallControlPlaneToml);
        const Plan& plan = fleet.plan();
        const std::string text = read_file(fleet.toml_of("tm"));
        const std::string patched = patch_wiring(plan, *plan.find("tm"), text, fleet.toml_of("tm"));
        CHECK(patched.find("service_url = \"https://localhost:9450/services/\"  # the control "
                           "plane\r\nevent_listening_endpoints = [\"tcp://localhost:5679\"]\r\n"
                           "enable = true\r\n") != std::string::npos);
    }
}

TEST_CASE("hostile files: foreign hosts left alone, ambiguous structure refused") {
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, kSmallControlPlaneToml);
    fleet.add("tm", "traffic-manager", 1, kSmallTrafficManagerToml);
    const auto gateway_with = [&](const std::string& toml) {
        fleet.add("gw", "gateway", 2, toml);
        const Plan& plan = fleet.plan();
        return patch_wiring(plan, *plan.find("gw"), toml, fleet.toml_of("gw"));
    };
    SUBCASE("a key manager on another host is the operator's: left alone and reported") {
        const std::string toml =
            std::string(kSmallGatewayToml) +
            "[apim.key_manager]\nservice_url = \"https://km.example.com:9443/services/\"\n";
        const std::string patched = gateway_with(toml);
        CHECK(patched.find("service_url = \"https://km.example.com:9443/services/\"") !=
              std::string::npos);
        const Plan& plan = fleet.plan();
        const auto review = review_wiring(plan, *plan.find("gw"));
        bool reported = false;
        for (const auto& warning : review.warnings) {
            reported = reported || warning.find(
                                       "points at km.example.com, not this machine; "
                                       "left alone") != std::string::npos;
        }
        CHECK(reported);
    }
    SUBCASE("a table written twice") {
        CHECK_THROWS_WITH_AS(gateway_with(std::string(kSmallGatewayToml) +
                                          "[apim.throttling]\na = 1\n[apim.throttling]\nb = 2\n"),
                             doctest::Contains("TOML syntax error"), ConfigError);
    }
    SUBCASE("an inline table") {
        CHECK_THROWS_WITH_AS(
            gateway_with("[apim]\nkey_manager = { service_url = \"https://localhost:9443/\" }\n"),
            doctest::Contains("[apim.key_manager] is written as an inline table"), ConfigError);
    }
    SUBCASE("dotted keys") {
        CHECK_THROWS_WITH_AS(gateway_with("[apim]\nevent_hub.enable = true\n"),
                             doctest::Contains("[apim.event_hub] is written with dotted keys"),
                             ConfigError);
    }
    SUBCASE("an inline array of url groups") {
        CHECK_THROWS_WITH_AS(
            gateway_with("[apim.throttling]\nurl_group = [{ traffic_manager_urls = [] }]\n"),
            doctest::Contains("is written inline"), ConfigError);
    }
    SUBCASE("more url groups than traffic managers") {
        CHECK_THROWS_WITH_AS(
            gateway_with("[[apim.throttling.url_group]]\ntraffic_manager_urls = []\n"
                         "[[apim.throttling.url_group]]\ntraffic_manager_urls = []\n"),
            doctest::Contains("appears 2 times, and the wiring needs 1 (one per traffic "
                              "manager: tm)"),
            ConfigError);
    }
    SUBCASE("a multi-line string") {
        CHECK_THROWS_WITH_AS(
            gateway_with("[apim.key_manager]\nservice_url = \"\"\"\nhttps://localhost:1/\"\"\"\n"),
            doctest::Contains("multi-line string"), ConfigError);
    }
}

TEST_CASE("a control plane's own key manager URL is corrected only where the file sets it") {
    SplitFleet fleet;
    const std::string literal = std::string(kSmallControlPlaneToml) +
                                "[apim.key_manager]\nservice_url = "
                                "\"https://localhost:9443/services/\"\n";
    fleet.add("acp", "api-cp", 3, literal);
    fleet.add("gw", "gateway", 2, kSmallGatewayToml);
    const Plan& plan = fleet.plan();
    const std::string patched =
        patch_wiring(plan, *plan.find("acp"), literal, fleet.toml_of("acp"));
    CHECK(patched.find("service_url = \"https://localhost:9446/services/\"") != std::string::npos);
    const std::string placeholder = std::string(kSmallControlPlaneToml) +
                                    "[apim.key_manager]\nservice_url = "
                                    "\"https://localhost:${mgt.transport.https.port}/services/\"\n";
    CHECK(patch_wiring(plan, *plan.find("acp"), placeholder, fleet.toml_of("acp"))
              .find("${mgt.transport.https.port}") != std::string::npos);
    const auto absent =
        patch_wiring(plan, *plan.find("acp"), kSmallControlPlaneToml, fleet.toml_of("acp"));
    CHECK(absent.find("key_manager") == std::string::npos);
    CHECK(absent.find("websub_event_receiver_https_endpoint = \"https://localhost:8023\"\n\n"
                      "[apim.cors]") != std::string::npos);
}

TEST_CASE("the real 4.7.0 split packs: control plane 0, traffic manager 1, gateways 2 and 3" *
          doctest::skip(test::no_real_fixtures())) {
    const auto real = test::real_fixtures();
    SplitFleet fleet;
    fleet.add("acp", "api-cp", 0, read_file(real / "apim-4.7.0-control-plane-deployment.toml"));
    fleet.add("tm", "traffic-manager", 1,
              read_file(real / "apim-4.7.0-traffic-manager-deployment.toml"));
    fleet.add("gw-1", "gateway", 2, read_file(real / "apim-4.7.0-gateway-deployment.toml"));
    fleet.add("gw-2", "gateway", 3, read_file(real / "apim-4.7.0-gateway-deployment.toml"));
    const Plan& plan = fleet.plan();
    for (const std::string name : {"acp", "tm", "gw-1", "gw-2"}) {
        CAPTURE(name);
        const InstancePlan& instance = *plan.find(name);
        const auto file = fleet.toml_of(name);
        const std::string original = read_file(file);
        const std::string patched = patch_wiring(plan, instance, original, file);
        CHECK(patched != original);
        const auto targets = wanted_wiring(plan, instance);
        const toml::table before = toml::parse(original);
        const toml::table after = toml::parse(patched);  // re-parses
        std::map<std::string, std::string> old_values;
        std::map<std::string, std::string> new_values;
        flatten(before, "", old_values);
        flatten(after, "", new_values);
        std::set<std::string> wired;
        const TomlDocument document(patched, file);
        for (const auto& target : targets) {
            const auto found = document.find(target.place, target.spec->key);
            if (target.self) {
                CHECK_FALSE(found);  // the control plane's own key manager: left to the pack
                continue;
            }
            wired.insert(tree_path(target));
            REQUIRE_MESSAGE(found, target.setting());
            CHECK_MESSAGE(found->value == target.wanted, target.setting());
            // Every URL names a port its peer binds, in the peer's order.
            std::vector<std::string> urls;
            if (const auto* url = std::get_if<std::string>(&target.wanted)) {
                urls = {*url};
            } else if (const auto* list = std::get_if<Urls>(&target.wanted)) {
                urls = *list;
            }
            for (std::size_t i = 0; i < urls.size(); ++i) {
                const InstancePlan& peer = *plan.find(target.peers.at(i));
                bool bound = false;
                for (const auto& port : peer.ports) {
                    bound = bound || (port.port == url_port_of(urls[i]) &&
                                      port.spec->key == target.spec->port_key);
                }
                CHECK_MESSAGE(bound, urls[i] << " is not a port of " << peer.profile->name);
            }
        }
        CHECK(!wired.empty());
        for (const auto& [path, value] : old_values) {
            if (!wired.count(path)) {
                CHECK_MESSAGE(new_values.count(path) == 1, "lost " << path);
                CHECK_MESSAGE(new_values[path] == value, "changed " << path);
            }
        }
        for (const auto& [path, value] : new_values) {
            CHECK_MESSAGE((wired.count(path) == 1 || old_values.count(path) == 1),
                          "added " << path);
        }
        // Only lines that wire something differ: each removed line was commented out or a
        // peer value, each added line is a peer setting, a table header or a blank line.
        for (const auto& line : changed_lines(original, patched)) {
            if (line.rfind("-#", 0) == 0) {
                continue;
            }
            const bool header = line.rfind("+[", 0) == 0;
            const bool blank = line == "+" || line == "-";
            bool names_a_setting = false;
            for (const auto& target : targets) {
                names_a_setting = names_a_setting || line.find(target.spec->key + " = ") == 1;
            }
            CHECK_MESSAGE((header || blank || names_a_setting), "unexpected change: " << line);
        }
        CHECK(patch_wiring(plan, instance, patched, file) == patched);  // a second run: no change
    }
    SUBCASE("the control plane's embedded H2 databases are reported") {
        const auto review = review_wiring(plan, *plan.find("acp"));
        bool reported = false;
        for (const auto& warning : review.warnings) {
            reported = reported || warning.find(
                                       "[database.apim_db], [database.shared_db] are "
                                       "the embedded H2 database") != std::string::npos;
        }
        CHECK(reported);
        bool two_gateways = false;
        for (const auto& warning : review.warnings) {
            two_gateways = two_gateways ||
                           warning.find("advertises gw-1's URLs; gw-2 serve") != std::string::npos;
        }
        CHECK(two_gateways);
    }
}
