// The service manager on Windows is the SCM: while the launcher runs as a service
// (service_windows.cpp), readiness and stopping become SERVICE_RUNNING and SERVICE_STOP_PENDING,
// and each request for more time advances the checkpoint so the SCM keeps waiting. In console
// mode there is no service and this does nothing.
#include <spdlog/spdlog.h>

#include "os/service_notifier.hpp"
#include "os/windows_service.hpp"

namespace carbon {

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io) : watchdog_timer_(io) {
    active_ = running_as_service();
}

void ServiceNotifier::ready() {
    report_service_state(ServiceState::Running);
}

void ServiceNotifier::reloading() {}  // the SCM has no such state: the service stays Running

void ServiceNotifier::stopping() {
    report_service_state(ServiceState::StopPending);
}

void ServiceNotifier::status(const std::string& text) {
    if (active_ && text != last_status_) {
        last_status_ = text;
        spdlog::debug("status: {}", text);
    }
}

void ServiceNotifier::extend_timeout(std::chrono::microseconds extra) {
    report_service_progress(std::chrono::duration_cast<std::chrono::milliseconds>(extra));
}

void ServiceNotifier::schedule_watchdog() {}

void ServiceNotifier::notify(const std::string&) {}

}  // namespace carbon
