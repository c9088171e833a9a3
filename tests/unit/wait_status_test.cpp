#include "os/wait_status.hpp"

#include <doctest/doctest.h>

#include <csignal>

using namespace carbon;

TEST_CASE("wait statuses decode into exit codes and signals") {
    CHECK(exit_status_from_wait(3 << 8).describe() == "exit code 3");
    const ExitStatus killed = exit_status_from_wait(SIGKILL);
    CHECK(killed.signaled);
    CHECK(killed.describe() == "signal 9 (SIGKILL)");
}
