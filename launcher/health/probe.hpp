#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "health_spec.hpp"

namespace carbon {

/// What one probe found.
struct ProbeResult {
    bool ok = false;
    int status = 0;  // the HTTP status; 0 for a TCP probe or when no answer came
    std::chrono::milliseconds latency{0};
    /// For people: "HTTP 200", "HTTP 500 (expected 200): <start of the body>", "timed out after
    /// 5 s", "connection refused", "TLS handshake failed: ...".
    std::string detail;
};

using ProbeCallback = std::function<void(const ProbeResult&)>;

/// At most this much of an answer's body is read (it only goes into ProbeResult::detail); the
/// status decides, whatever the body's size.
inline constexpr std::size_t kProbeBodyLimit = 4 * 1024;

class ProbeOperation;

/// A running probe. Destroying the handle or calling cancel() aborts the probe: its sockets are
/// closed and its callback is never called afterwards. A handle is empty once moved from or
/// default-constructed. Use it on the io_context's thread only.
class ProbeHandle {
  public:
    ProbeHandle() = default;
    explicit ProbeHandle(std::weak_ptr<ProbeOperation> operation);
    ~ProbeHandle();
    ProbeHandle(ProbeHandle&& other) noexcept;
    ProbeHandle& operator=(ProbeHandle&& other) noexcept;
    ProbeHandle(const ProbeHandle&) = delete;
    ProbeHandle& operator=(const ProbeHandle&) = delete;

    /// Aborts the probe if it still runs; its callback will not be called. Safe to call from the
    /// callback itself and more than once.
    void cancel();
    /// True while the probe runs and has not delivered its result.
    bool running() const;

  private:
    std::weak_ptr<ProbeOperation> operation_;
};

/// Starts one probe of 127.0.0.1:`port` on `io` and returns at once. `on_done` is called exactly
/// once, from a handler on `io` (never from within run_probe), unless the probe is cancelled
/// first. All I/O is asynchronous on `io`: no thread, no blocking call. The probe's state lives
/// as long as its I/O is pending, whatever happens to the caller's objects; `on_done` must not
/// outlive what it captures, so cancel (or destroy the handle) before destroying those.
/// HTTPS probes do not verify the server's certificate (see https_probe_openssl.cpp).
ProbeHandle run_probe(boost::asio::io_context& io, const ProbeSpec& spec, int port,
                      ProbeCallback on_done);

/// False when this build has no TLS (the Windows cross-build): an HTTPS probe is then only a TCP
/// connect to its port, its detail says so, and the first one logs a warning.
bool https_probes_supported();

}  // namespace carbon
