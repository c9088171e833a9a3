// HTTPS probes with OpenSSL (Debian's libssl), through Boost.Beast's TLS stream.

#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "health/probe_operation.hpp"

namespace carbon {

namespace {

/// The TLS settings of every loopback probe, made once (throws when OpenSSL cannot make them).
///
/// No certificate verification, deliberately: the packs ship self-signed certificates
/// (wso2carbon.jks) that no trust store knows, for names other than "localhost" once operators
/// change them; verifying would fail every probe of every default install. The probe connects
/// only to 127.0.0.1, to a port this launcher assigned to the instance, and sends no credential
/// and no data worth protecting, so an impostor on that port could at worst make a probe pass or
/// fail; that is no more than a process holding the port can do to any TCP probe.
boost::asio::ssl::context& loopback_tls_context() {
    static boost::asio::ssl::context context = [] {
        boost::asio::ssl::context made(boost::asio::ssl::context::tls_client);
        made.set_verify_mode(boost::asio::ssl::verify_none);
        made.set_options(boost::asio::ssl::context::default_workarounds |
                         boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3);
        return made;
    }();
    return context;
}

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

class TlsHttpProbe final : public HttpProbeOperation<TlsStream> {
  public:
    TlsHttpProbe(boost::asio::io_context& io, const ProbeSpec& spec, int port,
                 ProbeCallback on_done)
        : HttpProbeOperation(io, spec, port, std::move(on_done), io, loopback_tls_context()) {}

  private:
    void on_connected() override {
        // SNI with the Host header's name: a server with several certificates picks the one
        // for the name its own URLs use.
        SSL_set_tlsext_host_name(stream().native_handle(), "localhost");
        stream().async_handshake(boost::asio::ssl::stream_base::client,
                                 [self = self_as(this)](const boost::system::error_code& ec) {
                                     self->on_handshake(ec);
                                 });
    }

    void on_handshake(const boost::system::error_code& ec) {
        if (ended()) {
            return;
        }
        if (ec) {
            fail("TLS handshake failed: " + ec.message());
            return;
        }
        // No TLS shutdown at the end: the request says Connection: close, and a close_notify
        // exchange would only add a round trip with a server that may not answer it.
        send_request();
    }
};

}  // namespace

std::shared_ptr<ProbeOperation> make_https_probe(boost::asio::io_context& io, const ProbeSpec& spec,
                                                 int port, ProbeCallback on_done) {
    try {
        loopback_tls_context();
    } catch (const boost::system::system_error& e) {
        return make_failing_probe(io, spec, port, std::move(on_done),
                                  std::string("TLS is unavailable: ") + e.what());
    }
    return std::make_shared<TlsHttpProbe>(io, spec, port, std::move(on_done));
}

bool https_probes_supported() {
    return true;
}

}  // namespace carbon
