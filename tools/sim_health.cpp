// carbon-sim's HTTP(S) health endpoints (tools/SIMULATION.md [F16]). One session object per
// connection, kept alive by its own pending operation: read the request head, answer, close.
// A hung JVM accepts and reads but never writes a byte (no TLS handshake either).
#include "sim_health.hpp"

#include <array>
#include <istream>
#include <memory>
#include <type_traits>
#include <utility>

namespace carbon_sim {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kVersionPath = "/services/Version";
constexpr std::string_view kStartupCheckPath = "/api/am/gateway/v2/server-startup-healthcheck";
constexpr std::size_t kMaxRequestHead = 8192;  // a probe's request is a few hundred bytes

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        default:
            return "Status";
    }
}

#ifdef CARBON_SIM_TLS
using TlsStream = asio::ssl::stream<tcp::socket>;
template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;
#else
template <class Stream>
constexpr bool kIsTls = false;
#endif

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  public:
    template <class... StreamArgs>
    Session(PortRole role, const HealthEndpoints& endpoints, StreamArgs&&... stream_args)
        : stream_(std::forward<StreamArgs>(stream_args)...),
          request_(kMaxRequestHead),
          role_(role),
          endpoints_(endpoints) {}

    void start() {
        if (endpoints_.hung()) {
            drain();
            return;
        }
#ifdef CARBON_SIM_TLS
        if constexpr (kIsTls<Stream>) {
            stream_.async_handshake(asio::ssl::stream_base::server,
                                    [self = this->shared_from_this()](const auto& ec) {
                                        if (!ec) {
                                            self->read_request();
                                        }
                                    });
            return;
        }
#endif
        read_request();
    }

  private:
    tcp::socket& socket() {
        if constexpr (kIsTls<Stream>) {
            return stream_.next_layer();
        } else {
            return stream_;
        }
    }

    void read_request() {
        asio::async_read_until(stream_, request_, "\r\n\r\n",
                               [self = this->shared_from_this()](const auto& ec, std::size_t) {
                                   if (!ec) {  // else closed, or a head over the limit: dropped
                                       self->on_request();
                                   }
                               });
    }

    void on_request() {
        std::istream head(&request_);
        std::string method, target;
        head >> method >> target;
        const auto reply = endpoints_.answer(role_, method, target, HealthEndpoints::Clock::now());
        if (!reply) {
            drain();
            return;
        }
        reply_ = format_reply(*reply);
        asio::async_write(
            stream_, asio::buffer(reply_),
            [self = this->shared_from_this()](const auto&, std::size_t) { self->close(); });
    }

    /// Hung: whatever the client sends is read and dropped until it gives up and closes.
    void drain() {
        socket().async_read_some(asio::buffer(scratch_),
                                 [self = this->shared_from_this()](const auto& ec, std::size_t) {
                                     if (!ec) {
                                         self->drain();
                                     }
                                 });
    }

    void close() {
        if constexpr (kIsTls<Stream>) {
            // close_notify, as Tomcat sends it; done when the client answers or hangs up.
            stream_.async_shutdown([self = this->shared_from_this()](const auto&) {
                boost::system::error_code ignored;
                self->socket().close(ignored);
            });
        } else {
            boost::system::error_code ignored;
            socket().shutdown(tcp::socket::shutdown_both, ignored);
            socket().close(ignored);
        }
    }

    Stream stream_;
    asio::streambuf request_;
    std::string reply_;
    std::array<char, 1024> scratch_{};
    PortRole role_;
    const HealthEndpoints& endpoints_;
};

void start_session(tcp::socket socket, PortRole role, const HealthEndpoints& endpoints,
                   [[maybe_unused]] TlsContext* tls) {
    if (role == PortRole::HttpServlet) {
        std::make_shared<Session<tcp::socket>>(role, endpoints, std::move(socket))->start();
        return;
    }
#ifdef CARBON_SIM_TLS
    if (role == PortRole::HttpsServlet && tls != nullptr) {
        std::make_shared<Session<TlsStream>>(role, endpoints, std::move(socket), *tls)->start();
    }
#endif
}

void accept_next(tcp::acceptor& acceptor, PortRole role, const HealthEndpoints& endpoints,
                 TlsContext* tls) {
    acceptor.async_accept([&acceptor, role, &endpoints, tls](const boost::system::error_code& ec,
                                                             tcp::socket socket) {
        if (ec == asio::error::operation_aborted || ec == asio::error::no_descriptors) {
            return;  // closed; or out of fds, where retrying at once would only spin
        }
        if (!ec) {
            start_session(std::move(socket), role, endpoints, tls);
        }
        accept_next(acceptor, role, endpoints, tls);
    });
}

}  // namespace

HealthEndpoints::HealthEndpoints(std::string version, int delay_ms,
                                 std::optional<int> forced_status)
    : version_(std::move(version)), delay_(delay_ms), forced_status_(forced_status) {}

std::optional<HttpReply> HealthEndpoints::answer(PortRole role, std::string_view method,
                                                 std::string_view target,
                                                 Clock::time_point now) const {
    if (hung_) {
        return std::nullopt;
    }
    const auto path = target.substr(0, target.find('?'));
    const bool version = path == kVersionPath;
    const bool startup_check = path == kStartupCheckPath && role == PortRole::HttpsServlet;
    if (!version && !startup_check) {
        return HttpReply{404, "", ""};
    }
    if (method != "GET") {
        return HttpReply{405, "", ""};
    }
    if (version) {
        // [F16] Axis2's Version service; before the server is up: 503 (an assumption).
        return health(
            "<ns:getVersionResponse xmlns:ns=\"http://version.services.core.carbon.wso2.org\">"
            "<return>" +
                version_ + "</return></ns:getVersionResponse>",
            503, now);
    }
    // [F16] 500 with no body until every API is deployed, then 200 with no body.
    return health("", 500, now);
}

HttpReply HealthEndpoints::health(std::string body, int not_ready_status,
                                  Clock::time_point now) const {
    if (forced_status_) {
        return {*forced_status_, "", ""};
    }
    if (!opened_ || now < *opened_ + delay_) {
        return {not_ready_status, "", ""};
    }
    return {200, body.empty() ? "" : "application/xml", std::move(body)};
}

std::string format_reply(const HttpReply& reply) {
    std::string text = "HTTP/1.1 " + std::to_string(reply.status) + " ";
    text += reason_phrase(reply.status);
    text += "\r\n";
    if (!reply.content_type.empty()) {
        text += "Content-Type: " + reply.content_type + "\r\n";
    }
    text += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    text += "Connection: close\r\n\r\n";
    return text + reply.body;
}

void serve(tcp::acceptor& acceptor, PortRole role, const HealthEndpoints& endpoints,
           TlsContext* tls) {
    if (role == PortRole::TcpOnly || (role == PortRole::HttpsServlet && tls == nullptr)) {
        return;  // listening is all: the kernel completes the handshakes
    }
    accept_next(acceptor, role, endpoints, tls);
}

}  // namespace carbon_sim
