#include "cli/error_report.hpp"

#include <exception>
#include <system_error>

#include "cli/usage_error.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"

namespace carbon {

ErrorReport report_current_exception() {
    try {
        throw;
    } catch (const ExitError& e) {  // ControlClientError too
        return {e.exit_code(), false, {e.what()}};
    } catch (const UsageError& e) {
        return {kExitUsage, false, {std::string(e.what()) + " (see carbon-launcher --help)"}};
    } catch (const ConfigError& e) {
        ErrorReport report{kExitConfig, false, {}};
        for (const auto& diagnostic : e.diagnostics()) {
            report.messages.push_back(diagnostic.to_string());
        }
        return report;
    } catch (const std::system_error& e) {
        return {kExitIo, false, {e.what()}};
    } catch (const std::exception& e) {
        return {kExitSoftware, true, {e.what()}};
    } catch (...) {
        return {kExitSoftware, true, {"an exception that is not a std::exception"}};
    }
}

}  // namespace carbon
