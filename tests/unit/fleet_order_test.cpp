// The supervisor's ordering rules (common/fleet_order) without processes: which instances start
// now and which stop now, from what the supervisor knows of each.
#include <doctest/doctest.h>

#include "fleet_order.hpp"

using namespace carbon;
using State = ProcessState;
using Names = std::vector<std::string>;

namespace {

FleetMember member(const std::string& name, Names after = {}, State state = State::Stopped) {
    FleetMember m;
    m.name = name;
    m.after = std::move(after);
    m.state = state;
    m.has_processes = is_live(state);
    m.wants_up = state == State::Starting || state == State::Running;
    m.ever_started = state != State::Stopped;
    return m;
}

}  // namespace

TEST_CASE("start order: an instance waits until every instance it comes after is Running") {
    const FleetOrder nothing_up({member("km"), member("gw", {"km", "tm"}), member("tm")}, {});
    CHECK(nothing_up.due_to_start() == Names{"km", "tm"});

    const FleetOrder one_up({member("km", {}, State::Running), member("gw", {"km", "tm"}),
                             member("tm", {}, State::Starting)},
                            {});
    CHECK(one_up.due_to_start().empty());

    const FleetOrder both_up({member("km", {}, State::Running), member("gw", {"km", "tm"}),
                              member("tm", {}, State::Running)},
                             {});
    CHECK(both_up.due_to_start() == Names{"gw"});
}

TEST_CASE("start order: an instance started once is never started again by the fleet") {
    FleetMember fatal = member("apim-1", {}, State::Fatal);
    const FleetOrder order({fatal, member("apim-2", {}, State::Exited)}, {});
    CHECK(order.due_to_start().empty());  // restarts are the instance's policy, not the fleet's
}

TEST_CASE("start order: autostart false waits for an explicit start") {
    FleetMember manual = member("tooling");
    manual.autostart = false;
    const FleetOrder order({manual, member("si")}, {});
    CHECK(order.due_to_start() == Names{"si"});
}

TEST_CASE(
    "start order: an instance a reload added or replaced waits until every retiring group is "
    "gone") {
    // apim-1 replaced; zz added with the explicit offset apim-1 held until the reload moved it:
    // neither starts while the old apim-1 still holds its ports.
    const FleetOrder replacing({member("apim-1"), member("zz")}, {"apim-1"});
    CHECK(replacing.due_to_start().empty());
    const FleetOrder removing({member("zz")}, {"old"});
    CHECK(removing.due_to_start().empty());
    const FleetOrder replaced({member("apim-1"), member("zz")}, {});
    CHECK(replaced.due_to_start() == Names{"apim-1", "zz"});
}

TEST_CASE("start order: an `after` naming an instance no longer supervised holds nothing up") {
    const FleetOrder order({member("gw", {"removed-by-reload"})}, {});
    CHECK(order.due_to_start() == Names{"gw"});
}

TEST_CASE("stop order: reverse `after` order, independent instances in parallel") {
    const FleetOrder all_up({member("km", {}, State::Running), member("gw", {"km"}, State::Running),
                             member("si", {}, State::Running)},
                            {});
    CHECK(all_up.due_to_stop() == Names{"gw", "si"});

    FleetMember gw_stopping = member("gw", {"km"}, State::Stopping);
    gw_stopping.wants_up = false;
    const FleetOrder gw_draining({member("km", {}, State::Running), gw_stopping}, {});
    CHECK(gw_draining.due_to_stop().empty());  // km waits until gw's group is gone

    FleetMember gw_stopped = member("gw", {"km"}, State::Stopped);
    gw_stopped.ever_started = true;
    const FleetOrder gw_down({member("km", {}, State::Running), gw_stopped}, {});
    CHECK(gw_down.due_to_stop() == Names{"km"});
}

TEST_CASE("stop order: an instance waiting to retry is stopped too, so its retry is dropped") {
    FleetMember backoff = member("apim-1", {}, State::Backoff);
    backoff.wants_up = true;
    backoff.has_processes = false;
    const FleetOrder order({backoff}, {});
    CHECK(order.due_to_stop() == Names{"apim-1"});
}

TEST_CASE("all down: a live group, a wish to run or a retiring instance keeps the launcher up") {
    FleetMember stopped = member("apim-1", {}, State::Stopped);
    stopped.ever_started = true;
    CHECK(FleetOrder({stopped}, {}).all_down());
    CHECK_FALSE(FleetOrder({stopped}, {"apim-2"}).all_down());

    FleetMember draining = stopped;
    draining.has_processes = true;  // Exited, but its JVM is still being drained
    draining.state = State::Exited;
    CHECK_FALSE(FleetOrder({draining}, {}).all_down());

    FleetMember backoff = member("apim-1", {}, State::Backoff);
    backoff.wants_up = true;
    backoff.has_processes = false;
    CHECK_FALSE(FleetOrder({backoff}, {}).all_down());
}
