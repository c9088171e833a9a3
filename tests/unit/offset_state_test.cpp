#include <doctest/doctest.h>

#include "diagnostics.hpp"
#include "offset_state.hpp"

using namespace carbon;

TEST_CASE("sticky offsets round-trip") {
    const StickyOffsets offsets = {{"apim-1", 0}, {"si", 4}};
    CHECK(parse_sticky_offsets(render_sticky_offsets(offsets), "offsets.json") == offsets);
}

TEST_CASE("a damaged state file says how to recover") {
    CHECK_THROWS_WITH_AS(parse_sticky_offsets("{\"version\":1,\"offsets\":{\"a\":-3}}", "o.json"),
                         doctest::Contains("delete it to forget"), ConfigError);
    CHECK_THROWS_WITH_AS(parse_sticky_offsets("{", "o.json"), doctest::Contains("delete the file"),
                         ConfigError);
    CHECK_THROWS_AS(parse_sticky_offsets("{\"version\":9,\"offsets\":{}}", "o.json"), ConfigError);
}
