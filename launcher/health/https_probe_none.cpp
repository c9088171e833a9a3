// HTTPS probes in a build without TLS (CARBON_TLS_PROBES=OFF, the default of the Windows
// cross-build, whose dependencies have no OpenSSL): a TCP connect to the HTTPS port, labelled
// as such in every result, with one warning in the log. An instance is then judged by its port
// accepting connections, as before probes existed, never by an answer it did not give.

#include <spdlog/spdlog.h>

#include <mutex>

#include "health/probe_operation.hpp"

namespace carbon {

std::shared_ptr<ProbeOperation> make_https_probe(boost::asio::io_context& io, const ProbeSpec& spec,
                                                 int port, ProbeCallback on_done) {
    static std::once_flag warned;
    std::call_once(warned, [] {
        spdlog::warn(
            "this build has no TLS: HTTPS health probes only check that their port accepts a "
            "TCP connection (the HTTP status is not checked); use \"kind\": \"http\" on an HTTP "
            "port for a full check");
    });
    return make_tcp_probe(io, spec, port, std::move(on_done),
                          "(TCP only: this build has no TLS, the HTTPS answer was not checked)");
}

bool https_probes_supported() {
    return false;
}

}  // namespace carbon
