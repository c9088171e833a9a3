#include <doctest/doctest.h>

#include "diagnostics.hpp"
#include "instance_record.hpp"
#include "proc_stat.hpp"

using namespace carbon;

TEST_CASE("/proc/PID/stat with a command name holding spaces and parentheses") {
    const std::string text =
        "4242 (java (x) y) S 4200 4200 4200 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 31 0 987654 123 "
        "456\n";
    const auto stat = parse_proc_stat(text);
    REQUIRE(stat);
    CHECK(stat->pid == 4242);
    CHECK(stat->comm == "java (x) y");
    CHECK(stat->state == 'S');
    CHECK(stat->ppid == 4200);
    CHECK(stat->pgrp == 4200);
    CHECK(stat->start_time == 987654);
    CHECK_FALSE(parse_proc_stat("garbage"));
}

TEST_CASE("instance records round-trip and a damaged one says what to do") {
    const InstanceRecord r{"apim-1", 10, 10, 555, 3, "/opt/apim", 9};
    const auto back = parse_instance_record(render_instance_record(r), "x.json");
    CHECK(back.name == "apim-1");
    CHECK(back.start_time == 555);
    CHECK(back.home == "/opt/apim");
    CHECK_THROWS_WITH_AS(parse_instance_record("{}", "x.json"), doctest::Contains("delete it"),
                         ConfigError);
}
