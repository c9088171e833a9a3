#pragma once

// The machinery behind run_probe(), shared by probe.cpp and the TLS (or no-TLS) file that
// CMake picks. Not for other users: include probe.hpp.

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "health/probe.hpp"

namespace carbon {

/// One probe in flight: its deadline, the single delivery of its result, and cancellation.
/// Every handler holds a shared_ptr to it, so it lives until its last handler has run, however
/// early the caller lets go of it. Subclasses start their I/O in start_io() and close it in
/// abort_io(); they report through finish().
class ProbeOperation : public std::enable_shared_from_this<ProbeOperation> {
  public:
    ProbeOperation(boost::asio::io_context& io, ProbeSpec spec, int port, ProbeCallback on_done);
    virtual ~ProbeOperation() = default;
    ProbeOperation(const ProbeOperation&) = delete;
    ProbeOperation& operator=(const ProbeOperation&) = delete;

    /// Arms the deadline and starts the I/O.
    void start();
    /// Ends the probe without a result: the callback is dropped, the I/O closed.
    void cancel();
    /// True once the result was delivered or the probe cancelled.
    bool ended() const { return ended_; }

  protected:
    virtual void start_io() = 0;
    /// Closes the sockets: every pending operation completes with operation_aborted.
    virtual void abort_io() = 0;

    /// Delivers the result (once: later calls do nothing, as do calls after cancel()) and ends
    /// the I/O.
    void finish(bool ok, int status, std::string detail);
    void fail(std::string detail) { finish(false, 0, std::move(detail)); }

    boost::asio::io_context& io() { return io_; }
    const ProbeSpec& spec() const { return spec_; }
    boost::asio::ip::tcp::endpoint endpoint() const;
    /// shared_from_this() as the subclass, for its handlers.
    template <class Derived>
    std::shared_ptr<Derived> self_as(Derived*) {
        return std::static_pointer_cast<Derived>(shared_from_this());
    }

  private:
    void on_deadline(const boost::system::error_code& ec);

    boost::asio::io_context& io_;
    ProbeSpec spec_;
    int port_;
    ProbeCallback on_done_;
    boost::asio::steady_timer deadline_;
    std::chrono::steady_clock::time_point started_;
    bool ended_ = false;
};

/// "5 s" or "300 ms".
std::string describe_probe_duration(std::chrono::milliseconds duration);
/// "connection refused", or "connect failed: " and the system's words.
std::string describe_connect_error(const boost::system::error_code& ec);

/// A TCP connect; `note` is appended to a success's detail (the no-TLS HTTPS fallback says so).
std::shared_ptr<ProbeOperation> make_tcp_probe(boost::asio::io_context& io, const ProbeSpec& spec,
                                               int port, ProbeCallback on_done,
                                               std::string note = "");
/// A probe that fails with `why` (through the io_context, as every result arrives).
std::shared_ptr<ProbeOperation> make_failing_probe(boost::asio::io_context& io,
                                                   const ProbeSpec& spec, int port,
                                                   ProbeCallback on_done, std::string why);
/// An HTTPS GET, or where this build has no TLS a labelled TCP connect. Defined by
/// https_probe_openssl.cpp or https_probe_none.cpp, as CMake chooses.
std::shared_ptr<ProbeOperation> make_https_probe(boost::asio::io_context& io, const ProbeSpec& spec,
                                                 int port, ProbeCallback on_done);

/// GET spec().path over `Stream` (a beast::tcp_stream, or a TLS stream over one): connect, let
/// the subclass secure the stream (on_connected), send, read the header and at most
/// kProbeBodyLimit of the body, and judge by the status.
template <class Stream>
class HttpProbeOperation : public ProbeOperation {
  public:
    template <class... StreamArgs>
    HttpProbeOperation(boost::asio::io_context& io, const ProbeSpec& probe_spec, int port,
                       ProbeCallback on_done, StreamArgs&&... stream_args)
        : ProbeOperation(io, probe_spec, port, std::move(on_done)),
          stream_(std::forward<StreamArgs>(stream_args)...),
          buffer_(kHeaderLimit + kProbeBodyLimit) {
        parser_.header_limit(kHeaderLimit);
        // No limit on the announced length (Beast refuses a Content-Length past it before the
        // status is known): what bounds the read is the fixed body buffer.
        parser_.body_limit(boost::none);
    }

  protected:
    static constexpr std::uint32_t kHeaderLimit = 16 * 1024;

    /// The stream is connected: secure it if need be, then call send_request().
    virtual void on_connected() = 0;

    Stream& stream() { return stream_; }

    void start_io() override {
        auto self = self_as(this);
        boost::beast::get_lowest_layer(stream_).socket().async_connect(
            endpoint(), [self](const boost::system::error_code& ec) { self->on_connect(ec); });
    }

    void abort_io() override {
        boost::system::error_code ignored;
        boost::beast::get_lowest_layer(stream_).socket().close(ignored);
    }

    void send_request() {
        namespace http = boost::beast::http;
        request_ = {http::verb::get, spec().path, 11};
        // Host names the loopback server by the name its own URLs use; Connection: close, so
        // the server ends the exchange and nothing lingers between probes.
        request_.set(http::field::host, "localhost");
        request_.set(http::field::user_agent, "carbon-launcher-probe");
        request_.set(http::field::accept, "*/*");
        request_.set(http::field::connection, "close");
        auto self = self_as(this);
        http::async_write(
            stream_, request_,
            [self](const boost::system::error_code& ec, std::size_t) { self->on_written(ec); });
    }

  private:
    void on_connect(const boost::system::error_code& ec) {
        if (ended()) {
            return;
        }
        if (ec) {
            fail(describe_connect_error(ec));
            return;
        }
        on_connected();
    }

    void on_written(const boost::system::error_code& ec) {
        if (ended()) {
            return;
        }
        if (ec) {
            fail("sending the request failed: " + ec.message());
            return;
        }
        auto self = self_as(this);
        boost::beast::http::async_read_header(stream_, buffer_, parser_,
                                              [self](const boost::system::error_code& read_ec,
                                                     std::size_t) { self->on_header(read_ec); });
    }

    void on_header(const boost::system::error_code& ec) {
        if (ended()) {
            return;
        }
        if (ec) {
            const bool closed = ec == boost::beast::http::error::end_of_stream ||
                                ec == boost::asio::error::eof ||
                                ec == boost::asio::error::connection_reset;
            fail(closed ? "the connection closed before an answer"
                        : "no HTTP answer: " + ec.message());
            return;
        }
        if (parser_.is_done()) {
            judge();
            return;
        }
        // The body goes into body_ and stops there: a full buffer ends the read (need_buffer),
        // however long the body is.
        parser_.get().body().data = body_.data();
        parser_.get().body().size = body_.size();
        auto self = self_as(this);
        boost::beast::http::async_read(
            stream_, buffer_, parser_,
            [self](const boost::system::error_code&, std::size_t) { self->on_body(); });
    }

    // The body only adds to the detail: however its reading ended (complete, at the buffer's
    // end, cut short by a server that closes without a TLS close_notify), the status decides.
    void on_body() {
        if (!ended()) {
            judge();
        }
    }

    std::string_view body_read() const {
        const std::size_t unused = parser_.is_header_done() && parser_.get().body().data != nullptr
                                       ? parser_.get().body().size
                                       : body_.size();
        return {body_.data(), body_.size() - unused};
    }

    void judge() {
        const auto& response = parser_.get();
        const int status = static_cast<int>(response.result_int());
        if (status == spec().expected_status) {
            finish(true, status, "HTTP " + std::to_string(status));
            return;
        }
        std::string detail = "HTTP " + std::to_string(status) + " (expected " +
                             std::to_string(spec().expected_status) + ")";
        const std::string excerpt = body_excerpt(body_read());
        if (!excerpt.empty()) {
            detail += ": " + excerpt;
        }
        finish(false, status, std::move(detail));
    }

    /// The body's first line, at most 120 bytes, printable ASCII only: it goes into logs.
    static std::string body_excerpt(std::string_view body) {
        constexpr std::size_t kMaxExcerpt = 120;
        std::string excerpt;
        for (const char c : body) {
            if (c == '\n' || excerpt.size() == kMaxExcerpt) {
                break;
            }
            const auto byte = static_cast<unsigned char>(c);
            excerpt += byte >= 0x20 && byte < 0x7F ? c : ' ';
        }
        const auto last = excerpt.find_last_not_of(' ');
        return last == std::string::npos ? "" : excerpt.substr(0, last + 1);
    }

    Stream stream_;
    boost::beast::http::request<boost::beast::http::empty_body> request_;
    boost::beast::flat_buffer buffer_;
    boost::beast::http::response_parser<boost::beast::http::buffer_body> parser_;
    std::array<char, kProbeBodyLimit> body_{};
};

}  // namespace carbon
