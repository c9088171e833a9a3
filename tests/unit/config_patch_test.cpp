#include <doctest/doctest.h>

#include "config_patch.hpp"
#include "diagnostics.hpp"
#include "test_support.hpp"
#include "text_lines.hpp"
#include "yaml_ports.hpp"

using namespace carbon;

namespace {

std::string fixture(const std::string& name) {
    return test::read_file(std::filesystem::path(CARBON_SOURCE_DIR) / "tests/fixtures" / name);
}

/// Lines of `after` that differ from `before`: {changed, inserted}. Requires the rest identical.
std::pair<int, int> line_changes(const std::string& before, const std::string& after) {
    const auto a = split_lines(before);
    const auto b = split_lines(after);
    REQUIRE(b.size() >= a.size());
    if (a.size() == b.size()) {
        int changed = 0;
        for (std::size_t i = 0; i < a.size(); ++i) {
            changed += (a[i].content != b[i].content || a[i].eol != b[i].eol) ? 1 : 0;
        }
        return {changed, 0};
    }
    std::size_t head = 0;
    while (head < a.size() && a[head].content == b[head].content) {
        ++head;
    }
    for (std::size_t i = head; i < a.size(); ++i) {
        CHECK(a[i].content == b[i + (b.size() - a.size())].content);
    }
    return {0, static_cast<int>(b.size() - a.size())};
}

std::string si_offset(const std::string& text) {
    return read_yaml_scalar(text, "wso2.carbon/ports/offset", "x").value_or("(absent)");
}

}  // namespace

TEST_CASE("SI offset: exactly one line changes and the rest stays byte for byte") {
    const std::string original = fixture("si-deployment.yaml");
    for (const int offset : {1, 3, 17}) {
        const std::string patched = patch_si_offset(original, offset, "d.yaml");
        CHECK(line_changes(original, patched) == std::pair<int, int>{1, 0});
        CHECK(si_offset(patched) == std::to_string(offset));
        CHECK(patch_si_offset(patched, offset, "d.yaml") == patched);  // idempotent
    }
    CHECK(patch_si_offset(original, 0, "d.yaml") == original);
}

TEST_CASE("SI offset: CRLF, no final newline and trailing comments are kept") {
    std::string crlf;
    for (const auto& line : split_lines(fixture("si-deployment.yaml"))) {
        crlf += line.content + "\r\n";
    }
    const std::string patched = patch_si_offset(crlf, 5, "d.yaml");
    CHECK(patched.find("    offset: 5\r\n") != std::string::npos);
    CHECK(patched.size() == crlf.size());

    const std::string no_newline = "wso2.carbon:\n  id: x\n  ports:\n    offset: 0 # shifted";
    CHECK(patch_si_offset(no_newline, 12, "d.yaml") ==
          "wso2.carbon:\n  id: x\n  ports:\n    offset: 12 # shifted");
    CHECK(patch_si_offset("wso2.carbon:\n  ports:\n    offset: \"0\"\n", 2, "d.yaml") ==
          "wso2.carbon:\n  ports:\n    offset: \"2\"\n");
}

TEST_CASE("SI offset: a missing key is inserted at the file's own indentation") {
    CHECK(patch_si_offset("wso2.carbon:\n    id: x\n    ports:\n        # none yet\nother: 1\n", 4,
                          "d.yaml") ==
          "wso2.carbon:\n    id: x\n    ports:\n        offset: 4\n        # none yet\nother: 1\n");
    CHECK(patch_si_offset("wso2.carbon:\n  id: x\n  # trailing comment\nother: 1\n", 4, "d.yaml") ==
          "wso2.carbon:\n  id: x\n  ports:\n    offset: 4\n  # trailing comment\nother: 1\n");
    CHECK(patch_si_offset("wso2.carbon:\n  id: x", 4, "d.yaml") ==
          "wso2.carbon:\n  id: x\n  ports:\n    offset: 4");
}

TEST_CASE("SI offset: ambiguous structure is refused with the reason") {
    const auto refused = [](const std::string& text, const char* reason) {
        CAPTURE(text);
        CHECK_THROWS_WITH_AS(patch_si_offset(text, 3, "d.yaml"), doctest::Contains(reason),
                             ConfigError);
    };
    refused("wso2.carbon:\n  ports: {offset: 0}\n", "flow style");
    refused("wso2.carbon: {ports: {offset: 0}}\n", "flow style");
    refused("wso2.carbon:\n  ports:\n    offset: 0\n  ports:\n    offset: 1\n", "appears twice");
    refused("wso2.carbon:\n  ports:\n    offset: 0\n    offset: 1\n", "\"offset\" appears twice");
    refused("wso2.carbon:\n  ports:\n\toffset: 0\n", "tab");
    refused("base: &b\n  offset: 0\nwso2.carbon:\n  ports: *b\n", "anchor, alias or merge key");
    refused("wso2.carbon:\n  <<: *x\n", "not valid YAML");
    refused("wso2.carbon:\n  ports:\n    offset: ${PORT_OFFSET}\n", "placeholder");
    refused("wso2.carbon:\n  ports:\n    offset: many\n", "not a number");
    refused("other:\n  key: 1\n", "no top-level \"wso2.carbon:\"");
    refused("wso2.carbon:\n  ports: [1, 2\n", "not valid YAML");
    refused("\x01\x02garbage: [\n", "not valid YAML");
    CHECK(patch_si_offset("wso2.carbon:\n  ports:\n    offset: ${X}\n", 3, "d.yaml",
                          /*force=*/true) == "wso2.carbon:\n  ports:\n    offset: 3\n");
}

TEST_CASE("API-M offset: replace, uncomment the shipped line, or insert after [server]") {
    const std::string shipped = fixture("apim-deployment.toml");
    const std::string uncommented = patch_toml_server_offset(shipped, 7, "d.toml");
    CHECK(line_changes(shipped, uncommented) == std::pair<int, int>{1, 0});
    CHECK(uncommented.find("\noffset=7\n") != std::string::npos);
    CHECK(patch_toml_server_offset(uncommented, 7, "d.toml") == uncommented);
    const std::string replaced = patch_toml_server_offset(uncommented, 9, "d.toml");
    CHECK(replaced.find("\noffset=9\n") != std::string::npos);

    const std::string gateway = fixture("apim-gateway-deployment.toml");
    const std::string inserted = patch_toml_server_offset(gateway, 2, "d.toml");
    CHECK(line_changes(gateway, inserted) == std::pair<int, int>{0, 1});
    CHECK(inserted.find("[server]\noffset = 2\nhostname") != std::string::npos);

    CHECK(patch_toml_server_offset("[server]\noffset = 1 # ours\n", 4, "d.toml") ==
          "[server]\noffset = 4 # ours\n");
}

TEST_CASE("API-M offset: bad TOML and a missing [server] are refused") {
    CHECK_THROWS_WITH_AS(patch_toml_server_offset("[server\n", 1, "d.toml"),
                         doctest::Contains("not valid TOML"), ConfigError);
    CHECK_THROWS_WITH_AS(patch_toml_server_offset("[other]\na = 1\n", 1, "d.toml"),
                         doctest::Contains("no [server] table"), ConfigError);
    CHECK(patch_toml_server_offset("[server]\noffset = \"1\"\n", 2, "d.toml") ==
          "[server]\noffset = 2\n");
}

TEST_CASE("advertised URLs follow the offset and come back when it changes") {
    const RuntimeTable& apim = *test::source_catalog().find("api-manager");
    const std::string shipped = fixture("apim-deployment.toml");
    const std::string moved = patch_advertised_urls(shipped, apim, 5, "d.toml");
    CHECK(line_changes(shipped, moved) == std::pair<int, int>{4, 0});
    CHECK(moved.find("ws_endpoint = \"ws://localhost:9104\"") != std::string::npos);
    CHECK(moved.find("wss_endpoint = \"wss://localhost:8104\"") != std::string::npos);
    CHECK(moved.find("websub_event_receiver_http_endpoint = \"http://localhost:9026\"") !=
          std::string::npos);
    CHECK(moved.find("http_endpoint = \"http://localhost:${http.nio.port}\"") != std::string::npos);
    CHECK(patch_advertised_urls(moved, apim, 5, "d.toml") == moved);
    CHECK(patch_advertised_urls(moved, apim, 0, "d.toml") == shipped);
    const std::string custom = "[server]\n[x]\nws_endpoint = \"ws://lb.example:80\"\n";
    CHECK(patch_advertised_urls(custom, apim, 5, "d.toml") == custom);
}

TEST_CASE("unified_diff shows the changed line with context") {
    CHECK(unified_diff("a\nb\nc\n", "a\nB\nc\n", "f") ==
          "--- f\n+++ f (patched)\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
    CHECK(unified_diff("a\n", "a\n", "f").empty());
    CHECK(unified_diff("a\nc\n", "a\nb\nc\n", "f") ==
          "--- f\n+++ f (patched)\n@@ -1,2 +1,3 @@\n a\n+b\n c\n");
}

TEST_CASE("binary data is refused by every patcher (found by the fuzzer)") {
    using namespace std::string_literals;
    const std::string nul = "wso2.carbon:\n  ports:\n    offset: 5 \0\n"s;
    REQUIRE(nul.find('\0') != std::string::npos);
    CHECK_THROWS_WITH_AS(patch_si_offset(nul, 5, "d.yaml"), doctest::Contains("binary data"),
                         ConfigError);
    CHECK_THROWS_WITH_AS(patch_toml_server_offset(std::string("[server]\0", 9), 5, "d.toml"),
                         doctest::Contains("binary data"), ConfigError);
}

TEST_CASE("a file the parser reads differently from its text is refused (found by the fuzzer)") {
    // A quoted key line looks like "ports:" to the text scan but is a scalar to the parser.
    CHECK_THROWS_AS(patch_si_offset("wso2.carbon:\n  ports:\n    \"offset: 0\n", 3, "d.yaml"),
                    ConfigError);
}

TEST_CASE("a non-ASCII character where whitespace may stand is refused (found by the fuzzer)") {
    // toml++ 3.3's whitespace table reached __builtin_unreachable for these (toml_parser.hpp);
    // the sanitizer build of these tests aborts if it still does.
    for (const std::string text : {"\xef\xba\xbf", "[server]\noffset = \xc3\xa9\n",
                                   "[server]\n\xc2\xa1offset = 1\n", "a = 1 \xe3\x80\x81\n"}) {
        CAPTURE(text);
        CHECK_THROWS_WITH_AS(patch_toml_server_offset(text, 1, "d.toml"),
                             doctest::Contains("not valid TOML"), ConfigError);
    }
}
