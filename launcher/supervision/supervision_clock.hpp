#pragma once

#include <boost/asio/basic_waitable_timer.hpp>
#include <chrono>

namespace carbon {

/// The clock of the supervision core's timers (start, stop and retry deadlines, readiness
/// probes): std::chrono::steady_clock plus a shift that only unit tests move, so that a test can
/// let a 60 s stop deadline pass without waiting 60 s. Nothing in the launcher moves it.
struct SupervisionClock {
    using duration = std::chrono::steady_clock::duration;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr bool is_steady = true;

    static time_point now() noexcept { return std::chrono::steady_clock::now() + shift_; }
    /// Tests only: every later now() is `by` further on.
    static void advance(duration by) noexcept { shift_ += by; }

  private:
    static inline duration shift_{};
};

using SupervisionTimer = boost::asio::basic_waitable_timer<SupervisionClock>;

}  // namespace carbon
