#include <doctest/doctest.h>

#include <set>

#include "diagnostics.hpp"
#include "profile.hpp"
#include "test_support.hpp"
#include "yaml_ports.hpp"

using namespace carbon;

namespace {

std::set<int> effective_ports(const std::string& runtime, const std::filesystem::path& yaml_file,
                              int offset) {
    const RuntimeTable& table = *test::source_catalog().find(runtime);
    auto ports = table_ports(table);
    for (const auto& [key, base] : read_yaml_ports(test::read_file(yaml_file), table, yaml_file)) {
        for (auto& port : ports) {
            if (port.key == key) {
                port.base = base;
            }
        }
    }
    std::set<int> effective;
    for (const auto& port : ports) {
        effective.insert(port.effective(offset));
    }
    return effective;
}

}  // namespace

TEST_CASE("SI Tooling's real deployment.yaml at offset 3" *
          doctest::skip(test::no_real_fixtures())) {
    const auto real = test::real_fixtures();
    CHECK(effective_ports("si-tooling", real / "si-tooling-4.3.0-deployment.yaml", 3) ==
          std::set<int>{9390, 9743, 7614, 7714, 9614, 9714, 7370});
}

TEST_CASE("SI's real deployment.yaml at offset 0 and 5" * doctest::skip(test::no_real_fixtures())) {
    const auto real = test::real_fixtures();
    const auto file = real / "si-4.3.0-deployment.yaml";
    CHECK(effective_ports("streaming-integrator", file, 0) ==
          std::set<int>{9090, 9443, 7611, 7711, 9611, 9711, 7070, 7443});
    CHECK(effective_ports("streaming-integrator", file, 5) ==
          std::set<int>{9095, 9448, 7616, 7716, 9616, 9716, 7070, 7443});
    CHECK(read_yaml_scalar(test::read_file(file), "wso2.carbon/ports/offset", file) == "0");
    CHECK(read_yaml_scalar(test::read_file(real / "si-tooling-4.3.0-deployment.yaml"),
                           "wso2.carbon/ports/offset", file) == "3");
}

TEST_CASE("the project's own small SI file reads the same way") {
    test::TempDir dir;
    test::make_home(dir / "si", "streaming-integrator");
    CHECK(effective_ports("streaming-integrator", dir / "si/conf/server/deployment.yaml", 2) ==
          std::set<int>{9092, 9445, 7613, 7713, 9613, 9713, 7070, 7443});
}

TEST_CASE("a non-numeric port in the YAML is an error naming the path") {
    const RuntimeTable& table = *test::source_catalog().find("streaming-integrator");
    const std::string yaml =
        "wso2.transport.http:\n  listenerConfigurations:\n    - id: default\n      port: ${PORT}\n";
    try {
        read_yaml_ports(yaml, table, "d.yaml");
        FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
        CHECK(e.diagnostics().front().pointer ==
              "wso2.transport.http/listenerConfigurations/[id=default]/port");
        CHECK(e.diagnostics().front().message.find("not a port number") != std::string::npos);
    }
}
