#include "health/probe.hpp"

#include <boost/asio/post.hpp>

#include "health/probe_operation.hpp"

namespace carbon {

ProbeOperation::ProbeOperation(boost::asio::io_context& io, ProbeSpec spec, int port,
                               ProbeCallback on_done)
    : io_(io), spec_(std::move(spec)), port_(port), on_done_(std::move(on_done)), deadline_(io) {}

void ProbeOperation::start() {
    started_ = std::chrono::steady_clock::now();
    // One deadline for the whole probe (connect, TLS handshake, request, answer), so that a
    // server that accepts and then says nothing cannot hold it longer than its timeout.
    deadline_.expires_after(spec_.timeout);
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        self->on_deadline(ec);
    });
    start_io();
}

void ProbeOperation::on_deadline(const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted || ended_) {
        return;
    }
    fail("timed out after " + describe_probe_duration(spec_.timeout));
}

void ProbeOperation::cancel() {
    if (ended_) {
        return;
    }
    ended_ = true;
    on_done_ = nullptr;  // what it captured may be going away with the caller
    deadline_.cancel();
    abort_io();
}

void ProbeOperation::finish(bool ok, int status, std::string detail) {
    if (ended_) {
        return;
    }
    ended_ = true;
    deadline_.cancel();
    abort_io();
    ProbeResult result;
    result.ok = ok;
    result.status = status;
    result.detail = std::move(detail);
    result.latency = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started_);
    // Moved out first: the callback may cancel, restart or drop the probe that called it.
    const ProbeCallback on_done = std::move(on_done_);
    on_done_ = nullptr;
    if (on_done) {
        on_done(result);
    }
}

boost::asio::ip::tcp::endpoint ProbeOperation::endpoint() const {
    return {boost::asio::ip::address_v4::loopback(), static_cast<unsigned short>(port_)};
}

std::string describe_probe_duration(std::chrono::milliseconds duration) {
    if (duration.count() % 1000 == 0) {
        return std::to_string(duration.count() / 1000) + " s";
    }
    return std::to_string(duration.count()) + " ms";
}

std::string describe_connect_error(const boost::system::error_code& ec) {
    return ec == boost::asio::error::connection_refused ? "connection refused"
                                                        : "connect failed: " + ec.message();
}

namespace {

class TcpProbe final : public ProbeOperation {
  public:
    TcpProbe(boost::asio::io_context& io, const ProbeSpec& spec, int port, ProbeCallback on_done,
             std::string note)
        : ProbeOperation(io, spec, port, std::move(on_done)), socket_(io), note_(std::move(note)) {}

  private:
    void start_io() override {
        socket_.async_connect(
            endpoint(),
            [self = self_as(this)](const boost::system::error_code& ec) { self->on_connect(ec); });
    }

    void abort_io() override {
        boost::system::error_code ignored;
        socket_.close(ignored);
    }

    void on_connect(const boost::system::error_code& ec) {
        if (ended()) {
            return;
        }
        if (ec) {
            fail(describe_connect_error(ec));
            return;
        }
        finish(true, 0, note_.empty() ? "connected" : "connected " + note_);
    }

    boost::asio::ip::tcp::socket socket_;
    std::string note_;
};

class PlainHttpProbe final : public HttpProbeOperation<boost::beast::tcp_stream> {
  public:
    PlainHttpProbe(boost::asio::io_context& io, const ProbeSpec& spec, int port,
                   ProbeCallback on_done)
        : HttpProbeOperation(io, spec, port, std::move(on_done), io) {}

  private:
    void on_connected() override { send_request(); }
};

/// A probe that cannot run (a port outside 1-65535, no TLS context): its failure still arrives
/// through the io_context, as every result does.
class FailingProbe final : public ProbeOperation {
  public:
    FailingProbe(boost::asio::io_context& io, const ProbeSpec& spec, int port,
                 ProbeCallback on_done, std::string why)
        : ProbeOperation(io, spec, port, std::move(on_done)), why_(std::move(why)) {}

  private:
    void start_io() override {
        boost::asio::post(io(), [self = self_as(this)] { self->fail(self->why_); });
    }
    void abort_io() override {}

    std::string why_;
};

std::shared_ptr<ProbeOperation> make_probe_operation(boost::asio::io_context& io,
                                                     const ProbeSpec& spec, int port,
                                                     ProbeCallback on_done) {
    if (port < 1 || port > 65535) {
        return make_failing_probe(io, spec, port, std::move(on_done),
                                  "no such port: the probe's port is outside 1-65535");
    }
    switch (spec.kind) {
        case ProbeKind::Http:
            return std::make_shared<PlainHttpProbe>(io, spec, port, std::move(on_done));
        case ProbeKind::Https:
            return make_https_probe(io, spec, port, std::move(on_done));
        case ProbeKind::Tcp:
            break;
    }
    return make_tcp_probe(io, spec, port, std::move(on_done));
}

}  // namespace

std::shared_ptr<ProbeOperation> make_tcp_probe(boost::asio::io_context& io, const ProbeSpec& spec,
                                               int port, ProbeCallback on_done, std::string note) {
    return std::make_shared<TcpProbe>(io, spec, port, std::move(on_done), std::move(note));
}

std::shared_ptr<ProbeOperation> make_failing_probe(boost::asio::io_context& io,
                                                   const ProbeSpec& spec, int port,
                                                   ProbeCallback on_done, std::string why) {
    return std::make_shared<FailingProbe>(io, spec, port, std::move(on_done), std::move(why));
}

ProbeHandle run_probe(boost::asio::io_context& io, const ProbeSpec& spec, int port,
                      ProbeCallback on_done) {
    auto operation = make_probe_operation(io, spec, port, std::move(on_done));
    operation->start();
    return ProbeHandle(operation);
}

ProbeHandle::ProbeHandle(std::weak_ptr<ProbeOperation> operation)
    : operation_(std::move(operation)) {}

ProbeHandle::~ProbeHandle() {
    cancel();
}

ProbeHandle::ProbeHandle(ProbeHandle&& other) noexcept : operation_(std::move(other.operation_)) {
    other.operation_.reset();
}

ProbeHandle& ProbeHandle::operator=(ProbeHandle&& other) noexcept {
    if (this != &other) {
        cancel();
        operation_ = std::move(other.operation_);
        other.operation_.reset();
    }
    return *this;
}

void ProbeHandle::cancel() {
    if (const auto operation = operation_.lock()) {
        operation->cancel();
    }
    operation_.reset();
}

bool ProbeHandle::running() const {
    const auto operation = operation_.lock();
    return operation && !operation->ended();
}

}  // namespace carbon
