#include <doctest/doctest.h>

#include "diagnostics.hpp"
#include "port_table.hpp"
#include "test_support.hpp"

using namespace carbon;

TEST_CASE("the shipped tables hold DOMAIN.md's ports") {
    const auto& catalog = test::source_catalog();
    CHECK(catalog.names() ==
          std::vector<std::string>{"api-manager", "si-tooling", "streaming-integrator"});
    const RuntimeTable& apim = *catalog.find("api-manager");
    CHECK(apim.shipped_offset == 0);
    for (const int base : {9443, 9763, 8243, 8280, 8099, 9099, 8021, 9021, 5672, 9611, 9711, 9999,
                           11111, 7611, 7711, 10389, 8000, 4000}) {
        CAPTURE(base);
        bool found = false;
        for (const auto& port : apim.ports) {
            found = found || port.base == base;
        }
        CHECK(found);
    }
    CHECK_FALSE(apim.find_port("hazelcast")->follows_offset);
    CHECK_FALSE(apim.find_port("hazelcast")->default_open);
    CHECK_FALSE(apim.find_port("thrift-tcp")->default_open);
    CHECK(apim.find_port("https-servlet")->ready_probe);
    CHECK(apim.linux_scripts.front() == "bin/api-manager.sh");
    CHECK(apim.windows_scripts.front() == "bin/api-manager.bat");
    CHECK(apim.supports_method(OffsetMethod::Argument));

    const RuntimeTable& si = *catalog.find("streaming-integrator");
    CHECK(si.shipped_offset == 0);
    CHECK_FALSE(si.supports_method(OffsetMethod::Argument));
    CHECK_FALSE(si.find_port("store-api-http")->follows_offset);
    CHECK(si.find_port("store-api-https")->base == 7443);
    CHECK(si.config_file == "conf/server/deployment.yaml");

    const RuntimeTable& tooling = *catalog.find("si-tooling");
    CHECK(tooling.shipped_offset == 3);
    CHECK(tooling.find_port("http")->base == 9387);
    CHECK(tooling.find_port("store-api-http")->base == 7370);
    CHECK(tooling.linux_scripts.front() == "bin/tooling.sh");
}

TEST_CASE("a bad port table names the file and the field") {
    CHECK_THROWS_WITH_AS(
        parse_runtime_table(R"({"runtime":"x","ports":[{"key":"a","base":70000}]})", "x.json"),
        doctest::Contains("x.json: /ports/0/base"), ConfigError);
    CHECK_THROWS_WITH_AS(
        parse_runtime_table(R"({"runtime":"x","ports":[],"urls":[{"port":"nope"}]})", "x.json"),
        doctest::Contains("/urls/0/port"), ConfigError);
    CHECK_THROWS_WITH_AS(RuntimeCatalog::load("/nonexistent/runtimes"),
                         doctest::Contains("pass --runtimes DIR"), ConfigError);
}

TEST_CASE("the runtime family, runtime home and scripts' exit status are data in the tables") {
    const auto& catalog = test::source_catalog();
    const auto& apim = *catalog.find("api-manager");
    CHECK(apim.family == RuntimeFamily::Carbon4);
    CHECK(apim.runtime_home.empty());
    CHECK(apim.masks_exit_status("/opt/apim/bin/api-manager.sh"));
    CHECK(apim.masks_exit_status("/opt/apim/bin/gateway.sh"));
    CHECK_FALSE(apim.masks_exit_status("C:/wso2/apim/bin/api-manager.bat"));
    CHECK_FALSE(apim.masks_exit_status("/opt/apim/bin/exec-jvm.sh"));  // the operator's own
    for (const char* runtime : {"streaming-integrator", "si-tooling"}) {
        const auto& si = *catalog.find(runtime);
        CHECK(si.family == RuntimeFamily::Carbon5);
        CHECK(si.runtime_home == "wso2/server");
        CHECK(si.pid_file == "wso2/server/runtime.pid");  // runtime.pid lands in RUNTIME_HOME
        CHECK(si.masks_exit_status(si.linux_scripts.front()));
    }
}

TEST_CASE("a carbon5 table whose config file disagrees with its runtime home is refused") {
    CHECK_THROWS_WITH_AS(parse_runtime_table(R"({"runtime":"x","family":"carbon5",
        "runtime_home":"wso2/worker","config_file":"conf/server/deployment.yaml","ports":[]})",
                                             "x.json"),
                         doctest::Contains("conf/worker/deployment.yaml"), ConfigError);
    CHECK_THROWS_WITH_AS(
        parse_runtime_table(R"({"runtime":"x","family":"carbon5","ports":[]})", "x.json"),
        doctest::Contains("/runtime_home"), ConfigError);
    CHECK_THROWS_WITH_AS(
        parse_runtime_table(R"({"runtime":"x","family":"carbon6","ports":[]})", "x.json"),
        doctest::Contains("/family"), ConfigError);
    CHECK_THROWS_WITH_AS(
        parse_runtime_table(R"({"runtime":"x","script_exit_status":{"linux":"zero"},"ports":[]})",
                            "x.json"),
        doctest::Contains("/script_exit_status/linux"), ConfigError);
}
