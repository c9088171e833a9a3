#include <doctest/doctest.h>

#include <algorithm>

#include "config_inspect.hpp"
#include "test_support.hpp"

using namespace carbon;

TEST_CASE("the API-M [server] offset is read, absent while commented out") {
    CHECK_FALSE(read_toml_server_offset("[server]\n#offset=0\n", "d.toml").has_value());
    CHECK(read_toml_server_offset("[server]\noffset = 7\n", "d.toml") == 7);
}

TEST_CASE("stale advertised URLs are found in the real API-M files" *
          doctest::skip(test::no_real_fixtures())) {
    const auto real = test::real_fixtures();
    const RuntimeTable& apim = *test::source_catalog().find("api-manager");
    const auto file = real / "apim-4.4.0-deployment.toml";
    auto stale = stale_advertised_urls(test::read_file(file), 5, apim, file);
    std::sort(stale.begin(), stale.end());
    CHECK(stale == std::vector<std::string>{
                       "websub_event_receiver_http_endpoint = \"http://localhost:9021\"",
                       "websub_event_receiver_https_endpoint = \"https://localhost:8021\"",
                       "ws_endpoint = \"ws://localhost:9099\"",
                       "wss_endpoint = \"wss://localhost:8099\""});
    CHECK_FALSE(read_toml_server_offset(test::read_file(file), file).has_value());
}

TEST_CASE("an advertised URL is stale when it does not point where the offset puts the port") {
    const RuntimeTable& apim = *test::source_catalog().find("api-manager");
    const std::string shipped = "[x]\nws_endpoint = \"ws://localhost:9099\"\n";
    const std::string moved = "[x]\nws_endpoint = \"ws://localhost:9104\"\n";
    const std::string balancer = "[x]\nws_endpoint = \"ws://lb.example:80\"\n";
    CHECK(stale_advertised_urls(shipped, 0, apim, "d.toml").empty());
    CHECK(stale_advertised_urls(shipped, 5, apim, "d.toml").size() == 1);
    CHECK(stale_advertised_urls(moved, 5, apim, "d.toml").empty());
    CHECK(stale_advertised_urls(moved, 7, apim, "d.toml").size() ==
          1);  // moved once, offset changed since
    CHECK(stale_advertised_urls(moved, 0, apim, "d.toml").size() == 1);
    CHECK(stale_advertised_urls(balancer, 5, apim, "d.toml").empty());
}
