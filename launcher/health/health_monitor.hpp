#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "health/probe.hpp"
#include "health_spec.hpp"
#include "supervision/supervision_clock.hpp"

namespace carbon {

/// Runs one instance's probes on the loop, one probe at a time on one timer. While the instance
/// is Starting: the startup probe until it passes or the server is up by other means (its startup
/// line, or all its ports with ready.mode all-ports), then the readiness probe until it passes,
/// and then it is ready. While it is Running: the liveness probe every interval; after
/// failure_threshold failures in a row it is unhealthy. Probes ask 127.0.0.1 at the instance's
/// offset ports (`port_of` resolves a port key).
class HealthMonitor {
  public:
    using PortOf = std::function<std::optional<int>(const std::string& port_key)>;
    using Ready = std::function<void(const std::string& how)>;
    using Unhealthy = std::function<void(const std::string& why)>;

    HealthMonitor(boost::asio::io_context& io, std::string instance, HealthSpec spec,
                  PortOf port_of, Ready ready, Unhealthy unhealthy);
    ~HealthMonitor();
    HealthMonitor(const HealthMonitor&) = delete;
    HealthMonitor& operator=(const HealthMonitor&) = delete;

    /// A startup or readiness probe is configured: it, not the startup line, makes the
    /// instance Running.
    bool decides_readiness() const;
    /// Starting. Without `use_startup_probe` (ready.mode all-ports) only server_up() says up.
    void watch_start(bool use_startup_probe);
    /// The server is up by other means: the startup phase is over.
    void server_up(const std::string& how);
    void watch_liveness();
    /// Cancels the probe in flight and the timer: no callback comes after this.
    void stop();
    /// The last probe, its result and latency, and the liveness failures in a row.
    nlohmann::json status() const;

  private:
    enum class Phase { Idle, AwaitUp, Startup, Readiness, Liveness };

    void begin(Phase phase);
    void schedule(std::chrono::milliseconds after);
    void run_probe_now();
    void on_result(const ProbeSpec& spec, int port, const ProbeResult& result);
    const std::optional<ProbeSpec>& current_probe() const;

    boost::asio::io_context& io_;
    std::string instance_;  // for log lines
    HealthSpec spec_;
    PortOf port_of_;
    Ready ready_;
    Unhealthy unhealthy_;
    Phase phase_ = Phase::Idle;
    SupervisionTimer timer_;
    ProbeHandle probe_;
    SupervisionClock::time_point starting_since_;
    int failures_in_a_row_ = 0;
    struct Last {
        std::string role;
        std::string target;
        ProbeResult result;
        SupervisionClock::time_point at;
    };
    std::optional<Last> last_;
};

}  // namespace carbon
