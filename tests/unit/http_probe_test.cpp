// run_probe() against real loopback sockets: a small asio server in the test answers each
// connection with a canned reply (or says nothing), over plain TCP or TLS with a certificate
// made here in memory. Every wait is bounded: the io_context runs until the expected event, or
// a deadline fails the test.

#include <doctest/doctest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "health/probe.hpp"

#ifdef CARBON_TLS_PROBES
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/asio/ssl.hpp>
#endif

using namespace carbon;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kWaitLimit = std::chrono::seconds(10);

/// Runs `io` until `done()` holds; false when the deadline passed or nothing was left to run
/// before it did.
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit = kWaitLimit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    io.restart();
    while (!done()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            return false;
        }
        if (io.run_one_for(deadline - now) == 0 && io.stopped()) {
            return done();
        }
    }
    return true;
}

/// Runs every handler that is ready now, without waiting for more.
void drain(asio::io_context& io) {
    io.restart();
    io.poll();
}

enum class Reply {
    Canned,             // read the request head, then write the answer and close
    Immediate,          // write the answer as soon as the connection is accepted, then close
    Silent,             // read the request head, then say nothing until the client goes
    CloseAfterRequest,  // read the request head, then close
};

/// What a CannedServer saw.
struct ServerLog {
    int accepted = 0;
    int requests = 0;
    std::string last_request;
    bool client_closed = false;  // a connection ended from the client's side
    bool write_done = false;
    bool write_failed = false;
};

/// One connection: (TLS handshake,) read the request head, then answer, say nothing or close.
template <class Socket>
class CannedSession : public std::enable_shared_from_this<CannedSession<Socket>> {
  public:
    CannedSession(Socket socket, const std::string& answer, Reply reply, ServerLog& log)
        : socket_(std::move(socket)), answer_(answer), reply_(reply), log_(log) {}

    void start() {
        if (reply_ == Reply::Immediate) {
            write_answer();
            return;
        }
        if constexpr (std::is_same_v<Socket, tcp::socket>) {
            read_request();
        } else {
            socket_.async_handshake(
                asio::ssl::stream_base::server,
                [self = this->shared_from_this()](boost::system::error_code ec) {
                    if (!ec) {
                        self->read_request();
                    }
                });
        }
    }

  private:
    void read_request() {
        asio::async_read_until(
            socket_, asio::dynamic_buffer(request_, 64 * 1024), "\r\n\r\n",
            [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                if (!ec) {
                    self->on_request();
                }
            });
    }

    void on_request() {
        ++log_.requests;
        log_.last_request = request_;
        if (reply_ == Reply::CloseAfterRequest) {
            lowest_socket().close();
            return;
        }
        if (reply_ == Reply::Silent) {
            wait_for_client_close();
            return;
        }
        write_answer();
    }

    void write_answer() {
        asio::async_write(
            socket_, asio::buffer(answer_),
            [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                self->log_.write_done = true;
                self->log_.write_failed = static_cast<bool>(ec);
                // Closed without a TLS close_notify, as many servers do.
                self->lowest_socket().close();
            });
    }

    void wait_for_client_close() {
        socket_.async_read_some(
            asio::buffer(scratch_),
            [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                if (ec) {
                    self->log_.client_closed = true;
                } else {
                    self->wait_for_client_close();
                }
            });
    }

    tcp::socket& lowest_socket() {
        if constexpr (std::is_same_v<Socket, tcp::socket>) {
            return socket_;
        } else {
            return socket_.next_layer();
        }
    }

    Socket socket_;
    std::string request_;
    const std::string& answer_;
    Reply reply_;
    ServerLog& log_;
    char scratch_[256] = {};
};

/// A loopback server on a free port that gives every connection the same treatment.
class CannedServer {
  public:
    CannedServer(asio::io_context& io, std::string answer, Reply reply = Reply::Canned)
        : acceptor_(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
          answer_(std::move(answer)),
          reply_(reply) {
        accept();
    }

#ifdef CARBON_TLS_PROBES
    CannedServer(asio::io_context& io, std::string answer, asio::ssl::context& tls)
        : CannedServer(io, std::move(answer)) {
        tls_ = &tls;
    }
#endif

    int port() const {
        return acceptor_.local_endpoint().port();
    }
    const ServerLog& log() const {
        return log_;
    }

  private:
    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
            if (ec) {
                return;
            }
            ++log_.accepted;
#ifdef CARBON_TLS_PROBES
            if (tls_ != nullptr) {
                using TlsSocket = asio::ssl::stream<tcp::socket>;
                std::make_shared<CannedSession<TlsSocket>>(TlsSocket(std::move(socket), *tls_),
                                                           answer_, reply_, log_)
                    ->start();
                accept();
                return;
            }
#endif
            std::make_shared<CannedSession<tcp::socket>>(std::move(socket), answer_, reply_, log_)
                ->start();
            accept();
        });
    }

    tcp::acceptor acceptor_;
    std::string answer_;
    Reply reply_;
    ServerLog log_;
#ifdef CARBON_TLS_PROBES
    asio::ssl::context* tls_ = nullptr;
#endif
};

std::string http_answer(int status, const std::string& reason, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
}

/// A port that nothing listens on: bound, read, released.
int free_port(asio::io_context& io) {
    tcp::acceptor probe_port(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    return probe_port.local_endpoint().port();
}

ProbeSpec http_probe(ProbeKind kind = ProbeKind::Http,
                     const std::string& path = "/services/Version") {
    ProbeSpec spec;
    spec.kind = kind;
    spec.port_key = "test";
    spec.path = kind == ProbeKind::Tcp ? "" : path;
    spec.timeout = 5s;
    return spec;
}

/// Runs one probe to its result (the test fails when none comes within kWaitLimit).
ProbeResult probe_once(asio::io_context& io, const ProbeSpec& spec, int port) {
    std::optional<ProbeResult> result;
    int calls = 0;
    const ProbeHandle handle = run_probe(io, spec, port, [&](const ProbeResult& r) {
        result = r;
        ++calls;
    });
    REQUIRE(run_until(io, [&] { return result.has_value(); }));
    drain(io);
    CHECK(calls == 1);
    CHECK_FALSE(handle.running());
    return *result;
}

}  // namespace

TEST_CASE("a TCP probe passes on a listening port and names a refused one") {
    asio::io_context io;
    CannedServer server(io, "", Reply::Silent);
    const ProbeResult up = probe_once(io, http_probe(ProbeKind::Tcp), server.port());
    CHECK(up.ok);
    CHECK(up.status == 0);
    CHECK(up.detail == "connected");

    const ProbeResult refused = probe_once(io, http_probe(ProbeKind::Tcp), free_port(io));
    CHECK_FALSE(refused.ok);
    CHECK(refused.detail == "connection refused");
}

TEST_CASE("an HTTP probe passes on the expected status and sends a well-formed request") {
    asio::io_context io;
    CannedServer server(io, http_answer(200, "OK", "<ns:getVersionResponse/>"));
    const ProbeResult result = probe_once(io, http_probe(), server.port());
    CHECK(result.ok);
    CHECK(result.status == 200);
    CHECK(result.detail == "HTTP 200");
    CHECK(result.latency < kWaitLimit);
    const std::string& request = server.log().last_request;
    CHECK(request.rfind("GET /services/Version HTTP/1.1\r\n", 0) == 0);
    CHECK(request.find("Host: localhost\r\n") != std::string::npos);
    CHECK(request.find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("an HTTP probe fails on another status and quotes the body's start") {
    asio::io_context io;
    CannedServer server(io, http_answer(500, "Internal Server Error",
                                        "{\"code\":500,\"message\":\"APIs not deployed\"}\nmore"));
    const ProbeResult result = probe_once(io, http_probe(), server.port());
    CHECK_FALSE(result.ok);
    CHECK(result.status == 500);
    CHECK(result.detail ==
          "HTTP 500 (expected 200): {\"code\":500,\"message\":\"APIs not deployed\"}");

    ProbeSpec expects_401 = http_probe();
    expects_401.expected_status = 401;
    CannedServer unauthorised(io, http_answer(401, "Unauthorized", ""));
    CHECK(probe_once(io, expects_401, unauthorised.port()).ok);
}

TEST_CASE("chunked answers and answers that end with the connection are read too") {
    asio::io_context io;
    // Axis2's /services/Version answers chunked.
    CannedServer chunked(io,
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5\r\nhello\r\n0\r\n\r\n");
    CHECK(probe_once(io, http_probe(), chunked.port()).detail == "HTTP 200");

    CannedServer chunked_error(io,
                               "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: "
                               "chunked\r\n\r\n8\r\nstarting\r\n0\r\n\r\n");
    CHECK(probe_once(io, http_probe(), chunked_error.port()).detail ==
          "HTTP 503 (expected 200): starting");

    CannedServer until_close(io, "HTTP/1.0 200 OK\r\n\r\nno length, ends with the connection");
    CHECK(probe_once(io, http_probe(), until_close.port()).ok);
}

TEST_CASE("a server that accepts and never answers times the probe out") {
    asio::io_context io;
    CannedServer server(io, "", Reply::Silent);
    ProbeSpec spec = http_probe();
    spec.timeout = 300ms;
    const ProbeResult result = probe_once(io, spec, server.port());
    CHECK_FALSE(result.ok);
    CHECK(result.status == 0);
    CHECK(result.detail == "timed out after 300 ms");
    CHECK(result.latency >= 300ms);
    CHECK(result.latency < kWaitLimit);
    // The probe hung up: the server saw its side close.
    CHECK(run_until(io, [&] { return server.log().client_closed; }));
}

TEST_CASE("a connection closed before an answer, or an answer that is not HTTP, fails") {
    asio::io_context io;
    CannedServer closing(io, "", Reply::CloseAfterRequest);
    const ProbeResult closed = probe_once(io, http_probe(), closing.port());
    CHECK_FALSE(closed.ok);
    CHECK(closed.detail == "the connection closed before an answer");

    CannedServer babbling(io, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    const ProbeResult babble = probe_once(io, http_probe(), babbling.port());
    CHECK_FALSE(babble.ok);
    CHECK(babble.detail.rfind("no HTTP answer: ", 0) == 0);
}

TEST_CASE("a body larger than the cap is not read to its end") {
    asio::io_context io;
    // Far more than the socket buffers hold: the server can only finish writing it if the
    // probe reads it all, and it must not.
    const std::string body(32 * 1024 * 1024, 'x');
    CannedServer server(io, http_answer(200, "OK", body));
    const ProbeResult result = probe_once(io, http_probe(), server.port());
    CHECK(result.ok);
    CHECK(result.status == 200);
    REQUIRE(run_until(io, [&] { return server.log().write_done; }));
    CHECK(server.log().write_failed);

    CannedServer failing(io, http_answer(503, "Service Unavailable", body));
    const ProbeResult failed = probe_once(io, http_probe(), failing.port());
    CHECK(failed.status == 503);
    CHECK(failed.detail.size() < 200);  // "HTTP 503 (expected 200): " and a short excerpt
}

TEST_CASE("a cancelled probe never calls back, whoever cancels it and when") {
    asio::io_context io;
    CannedServer server(io, "", Reply::Silent);
    int calls = 0;
    const auto count = [&calls](const ProbeResult&) { ++calls; };

    SUBCASE("cancel() while the request waits for its answer") {
        ProbeHandle handle = run_probe(io, http_probe(), server.port(), count);
        REQUIRE(run_until(io, [&] { return server.log().requests == 1; }));
        CHECK(handle.running());
        handle.cancel();
        CHECK_FALSE(handle.running());
        handle.cancel();  // twice is harmless
        REQUIRE(run_until(io, [&] { return server.log().client_closed; }));
    }
    SUBCASE("the handle is destroyed before the connection is even made") {
        { const ProbeHandle handle = run_probe(io, http_probe(), server.port(), count); }
        drain(io);
    }
    SUBCASE("the object owning the handle dies while the probe runs") {
        struct Owner {
            ProbeHandle handle;
            int* calls = nullptr;
        };
        auto owner = std::make_unique<Owner>();
        owner->calls = &calls;
        owner->handle = run_probe(io, http_probe(), server.port(),
                                  [raw = owner.get()](const ProbeResult&) { ++*raw->calls; });
        REQUIRE(run_until(io, [&] { return server.log().requests == 1; }));
        owner.reset();
        REQUIRE(run_until(io, [&] { return server.log().client_closed; }));
    }
    SUBCASE("a handle moved into another is cancelled by the one that holds it") {
        ProbeHandle first = run_probe(io, http_probe(), server.port(), count);
        ProbeHandle second = std::move(first);
        CHECK_FALSE(first.running());
        CHECK(second.running());
        REQUIRE(run_until(io, [&] { return server.log().requests == 1; }));
        second = ProbeHandle();
        REQUIRE(run_until(io, [&] { return server.log().client_closed; }));
    }
    drain(io);
    CHECK(calls == 0);
}

TEST_CASE("the callback may drop its own handle and start the next probe") {
    asio::io_context io;
    CannedServer server(io, http_answer(200, "OK", "fine"));
    ProbeHandle handle;
    int results = 0;
    std::function<void(const ProbeResult&)> next = [&](const ProbeResult& result) {
        CHECK(result.ok);
        if (++results < 3) {
            handle = run_probe(io, http_probe(), server.port(), next);
        } else {
            handle = ProbeHandle();
        }
    };
    handle = run_probe(io, http_probe(), server.port(), next);
    REQUIRE(run_until(io, [&] { return results == 3; }));
    drain(io);
    CHECK(results == 3);
    CHECK(server.log().accepted == 3);
}

TEST_CASE("an impossible port fails through the io_context, not from run_probe") {
    asio::io_context io;
    std::optional<ProbeResult> result;
    const ProbeHandle handle =
        run_probe(io, http_probe(), 70000, [&](const ProbeResult& r) { result = r; });
    CHECK_FALSE(result.has_value());
    REQUIRE(run_until(io, [&] { return result.has_value(); }));
    CHECK_FALSE(result->ok);
    CHECK(result->detail.find("outside 1-65535") != std::string::npos);
}

#ifdef CARBON_TLS_PROBES

namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
    void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
    void operator()(BIO* bio) const { BIO_free(bio); }
};

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(size));
}

/// A TLS server context with a fresh self-signed certificate for "localhost", made in memory:
/// no private key is checked in, none is written to disk.
asio::ssl::context self_signed_server_context() {
    const std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
    REQUIRE(key);
    const std::unique_ptr<X509, X509Free> cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);

    const std::unique_ptr<BIO, BioFree> cert_pem(BIO_new(BIO_s_mem()));
    const std::unique_ptr<BIO, BioFree> key_pem(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio_X509(cert_pem.get(), cert.get()) == 1);
    REQUIRE(PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                     nullptr) == 1);
    asio::ssl::context context(asio::ssl::context::tls_server);
    const std::string cert_text = bio_text(cert_pem.get());
    const std::string key_text = bio_text(key_pem.get());
    context.use_certificate(asio::buffer(cert_text), asio::ssl::context::pem);
    context.use_private_key(asio::buffer(key_text), asio::ssl::context::pem);
    return context;
}

}  // namespace

TEST_CASE("an HTTPS probe passes on a server with a self-signed certificate") {
    CHECK(https_probes_supported());
    asio::io_context io;
    asio::ssl::context tls = self_signed_server_context();
    CannedServer server(io, http_answer(200, "OK", "{\"status\":\"ready\"}"), tls);
    const ProbeResult result = probe_once(
        io, http_probe(ProbeKind::Https, "/api/am/gateway/v2/server-startup-healthcheck"),
        server.port());
    CHECK(result.ok);
    CHECK(result.status == 200);
    CHECK(server.log().last_request.rfind(
              "GET /api/am/gateway/v2/server-startup-healthcheck HTTP/1.1\r\n", 0) == 0);

    CannedServer failing(io, http_answer(500, "Internal Server Error", "not deployed"), tls);
    const ProbeResult failed = probe_once(io, http_probe(ProbeKind::Https), failing.port());
    CHECK_FALSE(failed.ok);
    CHECK(failed.detail == "HTTP 500 (expected 200): not deployed");

    const std::string body(32 * 1024 * 1024, 'x');
    CannedServer big(io, http_answer(200, "OK", body), tls);
    CHECK(probe_once(io, http_probe(ProbeKind::Https), big.port()).ok);
}

TEST_CASE("an HTTPS probe of a port that does not speak TLS fails in the handshake") {
    asio::io_context io;
    CannedServer plain(io, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
                       Reply::Immediate);
    const ProbeResult result = probe_once(io, http_probe(ProbeKind::Https), plain.port());
    CHECK_FALSE(result.ok);
    CHECK(result.detail.rfind("TLS handshake failed: ", 0) == 0);
}

TEST_CASE("an HTTPS server that never answers times the probe out") {
    asio::io_context io;
    // A listener that completes the TCP handshake but never the TLS one.
    CannedServer silent(io, "", Reply::Silent);
    ProbeSpec spec = http_probe(ProbeKind::Https);
    spec.timeout = 300ms;
    const ProbeResult result = probe_once(io, spec, silent.port());
    CHECK_FALSE(result.ok);
    CHECK(result.detail == "timed out after 300 ms");
}

#else

TEST_CASE("without TLS an HTTPS probe is a labelled TCP connect") {
    CHECK_FALSE(https_probes_supported());
    asio::io_context io;
    CannedServer server(io, "", Reply::Silent);
    const ProbeResult result = probe_once(io, http_probe(ProbeKind::Https), server.port());
    CHECK(result.ok);
    CHECK(result.detail.find("TCP only") != std::string::npos);
}

#endif
