#include "health/health_monitor.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>

namespace carbon {
namespace {

std::string seconds_text(std::chrono::steady_clock::duration elapsed) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(elapsed).count());
    return text;
}

}  // namespace

HealthMonitor::HealthMonitor(boost::asio::io_context& io, std::string instance, HealthSpec spec,
                             PortOf port_of, Ready ready, Unhealthy unhealthy)
    : io_(io),
      instance_(std::move(instance)),
      spec_(std::move(spec)),
      port_of_(std::move(port_of)),
      ready_(std::move(ready)),
      unhealthy_(std::move(unhealthy)),
      timer_(io) {}

HealthMonitor::~HealthMonitor() = default;

bool HealthMonitor::decides_readiness() const {
    return spec_.startup.has_value() || spec_.readiness.has_value();
}

void HealthMonitor::watch_start(bool use_startup_probe) {
    starting_since_ = SupervisionClock::now();
    // Without a startup probe the readiness probe is polled from the start: it cannot pass
    // before the server is up anyway.
    begin(use_startup_probe && spec_.startup ? Phase::Startup
          : spec_.readiness                  ? Phase::Readiness
                                             : Phase::AwaitUp);
}

void HealthMonitor::server_up(const std::string& how) {
    if (phase_ != Phase::Startup && phase_ != Phase::AwaitUp) {
        return;
    }
    if (spec_.readiness) {
        begin(Phase::Readiness);
    } else {
        begin(Phase::Idle);
        ready_(how);
    }
}

void HealthMonitor::watch_liveness() {
    begin(spec_.liveness ? Phase::Liveness : Phase::Idle);
}

void HealthMonitor::stop() {
    begin(Phase::Idle);
}

void HealthMonitor::begin(Phase phase) {
    timer_.cancel();
    probe_.cancel();
    phase_ = phase;
    failures_in_a_row_ = 0;
    if (phase == Phase::Liveness) {
        schedule(spec_.liveness->interval);  // it was just found ready: look again later
    } else if (phase != Phase::Idle && phase != Phase::AwaitUp) {
        run_probe_now();
    }
}

const std::optional<ProbeSpec>& HealthMonitor::current_probe() const {
    static const std::optional<ProbeSpec> none;
    switch (phase_) {
        case Phase::Startup:
            return spec_.startup;
        case Phase::Readiness:
            return spec_.readiness;
        case Phase::Liveness:
            return spec_.liveness;
        case Phase::Idle:
        case Phase::AwaitUp:
            break;
    }
    return none;
}

void HealthMonitor::schedule(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            run_probe_now();
        }
    });
}

void HealthMonitor::run_probe_now() {
    const auto& spec = current_probe();
    if (!spec) {
        return;
    }
    const auto port = port_of_(spec->port_key);
    if (!port) {  // profiles are checked when they load; this is a table without that port
        spdlog::error("{}: no port \"{}\" for its probe; the probe is skipped", instance_,
                      spec->port_key);
        return;
    }
    probe_ = run_probe(io_, *spec, *port, [this, probe = *spec, port = *port](const auto& result) {
        on_result(probe, port, result);
    });
}

void HealthMonitor::on_result(const ProbeSpec& spec, int port, const ProbeResult& result) {
    const char* role = phase_ == Phase::Startup     ? "startup"
                       : phase_ == Phase::Readiness ? "readiness"
                                                    : "liveness";
    last_ = Last{role, describe_probe(spec, port), result, SupervisionClock::now()};
    switch (phase_) {
        case Phase::Startup:
            if (result.ok) {  // its port answers: now ask whether it can take work
                server_up("ready in " + seconds_text(SupervisionClock::now() - starting_since_) +
                          ": startup probe " + describe_probe(spec, port) + " passed");
                return;
            }
            break;
        case Phase::Readiness:
            if (result.ok) {
                ready_("ready in " + seconds_text(SupervisionClock::now() - starting_since_) +
                       ": readiness probe " + describe_probe(spec, port) + " passed (" +
                       result.detail + ")");
                return;
            }
            break;
        case Phase::Liveness:
            if (result.ok) {
                failures_in_a_row_ = 0;
            } else if (++failures_in_a_row_ >= spec_.liveness_failure_threshold) {
                const std::string why = "liveness probe failed " +
                                        std::to_string(failures_in_a_row_) + " times in a row (" +
                                        describe_probe(spec, port) + "): " + result.detail;
                phase_ = Phase::Idle;
                unhealthy_(why);
                return;
            } else {
                spdlog::warn("{}: liveness probe failed ({} of {}): {}", instance_,
                             failures_in_a_row_, spec_.liveness_failure_threshold, result.detail);
            }
            break;
        case Phase::Idle:
        case Phase::AwaitUp:
            return;
    }
    schedule(spec.interval);
}

nlohmann::json HealthMonitor::status() const {
    nlohmann::json probes = nlohmann::json::object();
    for (const ProbeRole role : kProbeRoles) {
        const auto& probe = spec_.probe(role);
        const auto port = probe ? port_of_(probe->port_key) : std::nullopt;
        probes[to_string(role)] =
            probe && port ? nlohmann::json(describe_probe(*probe, *port)) : nlohmann::json(nullptr);
    }
    nlohmann::json status{{"probes", probes},
                          {"liveness_failures_in_a_row", failures_in_a_row_},
                          {"failure_threshold", spec_.liveness_failure_threshold}};
    if (last_) {
        status["last"] = {
            {"role", last_->role},
            {"target", last_->target},
            {"ok", last_->result.ok},
            {"status", last_->result.status},
            {"detail", last_->result.detail},
            {"latency_ms", last_->result.latency.count()},
            {"age_s", std::chrono::duration<double>(SupervisionClock::now() - last_->at).count()}};
    } else {
        status["last"] = nullptr;
    }
    return status;
}

}  // namespace carbon
