// The health endpoints of carbon-sim's API-M (tools/SIMULATION.md [F16]): what the launcher's
// readiness and liveness probes talk to. HTTP/1.1 on the servlet ports, TLS on the HTTPS one
// (when built with CARBON_SIM_TLS), all asynchronous on the sim's one io_context.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#ifdef CARBON_SIM_TLS
#include <boost/asio/ssl.hpp>
#endif

namespace carbon_sim {

/// What a port of the simulated JVM speaks.
enum class PortRole {
    TcpOnly,       // accepts connections (the kernel's backlog) and nothing more
    HttpServlet,   // API-M 9763+offset: /services/Version
    HttpsServlet,  // API-M 9443+offset over TLS: /services/Version, the gateway startup check
};

struct HttpReply {
    int status = 200;
    std::string content_type;
    std::string body;
};

/// Decides every answer from the sim.json knobs and the JVM's progress.
class HealthEndpoints {
  public:
    using Clock = std::chrono::steady_clock;

    /// `version`: what /services/Version returns (e.g. "WSO2 API Manager-4.4.0");
    /// `delay_ms`: after the ports open, until the health endpoints answer 200;
    /// `forced_status`: every health endpoint answers it instead (health_status).
    HealthEndpoints(std::string version, int delay_ms, std::optional<int> forced_status);

    void ports_opened(Clock::time_point now) { opened_ = now; }
    void hang() { hung_ = true; }
    bool hung() const { return hung_; }

    /// The answer to one request; nothing when the JVM is hung (it never answers).
    std::optional<HttpReply> answer(PortRole role, std::string_view method, std::string_view target,
                                    Clock::time_point now) const;

  private:
    HttpReply health(std::string body, int not_ready_status, Clock::time_point now) const;

    std::string version_;
    std::chrono::milliseconds delay_;
    std::optional<int> forced_status_;
    std::optional<Clock::time_point> opened_;
    bool hung_ = false;
};

/// The bytes of a complete HTTP/1.1 response that closes the connection.
std::string format_reply(const HttpReply& reply);

#ifdef CARBON_SIM_TLS
using TlsContext = boost::asio::ssl::context;
#else
struct TlsContext {};  // built without OpenSSL (the Windows cross-build): no HTTPS
#endif

/// Accepts connections on `acceptor` until it is closed and answers their requests per `role`.
/// `tls` is needed for HttpsServlet. Everything referenced must outlive the io_context's run.
void serve(boost::asio::ip::tcp::acceptor& acceptor, PortRole role,
           const HealthEndpoints& endpoints, TlsContext* tls);

}  // namespace carbon_sim
