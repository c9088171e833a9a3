#include <doctest/doctest.h>

#include "control_limits.hpp"

using namespace carbon;

namespace {

constexpr unsigned kRoot = 0;
constexpr unsigned kAlice = 1000;
constexpr unsigned kBob = 1001;

/// Connects `count` clients of `user`; returns how many were admitted.
std::size_t connect(ControlLimits& limits, ControlLimits::User user, std::size_t count) {
    std::size_t admitted = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (!limits.refuse_connection(user)) {
            limits.connected(user);
            ++admitted;
        }
    }
    return admitted;
}

std::size_t stream(ControlLimits& limits, ControlLimits::User user, std::size_t count) {
    std::size_t admitted = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (!limits.refuse_connection(user) && !limits.refuse_stream(user)) {
            limits.connected(user);
            limits.started_streaming(user);
            ++admitted;
        }
    }
    return admitted;
}

}  // namespace

TEST_CASE("256 watchers of one user leave room for that user's and everyone's requests") {
    ControlLimits limits;
    CHECK(stream(limits, kRoot, 256) == 64);  // the per-user cap on streams
    CHECK_FALSE(limits.refuse_connection(kRoot));
    CHECK_FALSE(limits.refuse_connection(kAlice));
    const auto why = limits.refuse_stream(kRoot);
    REQUIRE(why);
    CHECK(why->find("uid 0 already has 64 clients that watch or follow logs") != std::string::npos);
    CHECK(why->find("logs -f") != std::string::npos);  // the fix: which clients to end
}

TEST_CASE("watchers of many users never take the slots kept for requests") {
    ControlLimits limits;
    for (unsigned user = 1; user <= 8; ++user) {
        stream(limits, user, 64);
    }
    CHECK(limits.streams() == 128);
    const auto why = limits.refuse_stream(kBob);
    REQUIRE(why);
    CHECK(why->find("128 clients already watch or follow logs") != std::string::npos);
    CHECK(connect(limits, kBob, 128) == 128);  // the other half of the table
}

TEST_CASE("idle clients of one user cannot lock another out") {
    ControlLimits limits;
    CHECK(connect(limits, kAlice, 500) == 128);
    const auto why = limits.refuse_connection(kAlice);
    REQUIRE(why);
    CHECK(why->find("uid 1000 already holds 128 connections, the per-user cap") !=
          std::string::npos);
    CHECK_FALSE(limits.refuse_connection(kRoot));
    CHECK(connect(limits, kBob, 500) == 128);
    const auto full = limits.refuse_connection(kRoot);
    REQUIRE(full);  // two users at their caps fill the table: the total cap speaks
    CHECK(full->find("already serves 256 clients") != std::string::npos);
}

TEST_CASE("slots come back when clients go, and users without clients are forgotten") {
    ControlLimits limits;
    stream(limits, kAlice, 64);
    connect(limits, kAlice, 64);
    CHECK(limits.refuse_connection(kAlice));
    limits.disconnected(kAlice, true);
    CHECK_FALSE(limits.refuse_connection(kAlice));
    CHECK_FALSE(limits.refuse_stream(kAlice));
    for (int i = 0; i < 63; ++i) {
        limits.disconnected(kAlice, true);
    }
    for (int i = 0; i < 64; ++i) {
        limits.disconnected(kAlice, false);
    }
    CHECK(limits.clients() == 0);
    CHECK(limits.streams() == 0);
    CHECK(stream(limits, kAlice, 64) == 64);
}

TEST_CASE("clients whose user is unknown (Windows pipes) meet only the total caps") {
    ControlLimits limits;
    const ControlLimits::User unknown;
    CHECK(stream(limits, unknown, 200) == 128);
    CHECK(connect(limits, unknown, 200) == 128);
    CHECK(limits.refuse_connection(unknown));
}
