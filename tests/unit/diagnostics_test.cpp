#include <doctest/doctest.h>

#include "diagnostics.hpp"

using namespace carbon;

TEST_CASE("closest_match suggests near misses only") {
    const std::vector<std::string> words = {"offset", "offset_method", "home", "runtime"};
    CHECK(closest_match("ofset", words) == "offset");
    CHECK(closest_match("runtme", words) == "runtime");
    CHECK(closest_match("completely-different", words) == "");
}

TEST_CASE("line_and_column counts from 1") {
    CHECK(line_and_column("ab\ncd", 0) == std::pair<std::size_t, std::size_t>{1, 1});
    CHECK(line_and_column("ab\ncd", 4) == std::pair<std::size_t, std::size_t>{2, 2});
}

TEST_CASE("a diagnostic prints file, pointer and message") {
    const Diagnostic d{"profiles/apim-2.json", "/offset", "1 collides"};
    CHECK(d.to_string() == "profiles/apim-2.json: /offset: 1 collides");
}
