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
    CHECK(apim.supports_method("argument"));

    const RuntimeTable& si = *catalog.find("streaming-integrator");
    CHECK(si.shipped_offset == 0);
    CHECK_FALSE(si.supports_method("argument"));
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
