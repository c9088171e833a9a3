#include "os/environment.hpp"

#include <cstdlib>

// The one difference between the platforms is the variable's name, so one file serves both.
#ifdef _WIN32
#define CARBON_ENVIRON _environ  // the C runtime's copy; names keep their Windows case
#else
extern char** environ;
#define CARBON_ENVIRON environ
#endif

namespace carbon {

std::map<std::string, std::string> current_environment() {
    std::map<std::string, std::string> env;
    for (char** entry = CARBON_ENVIRON; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string text = *entry;
        const auto equals = text.find('=');
        if (equals != std::string::npos) {
            env.emplace(text.substr(0, equals), text.substr(equals + 1));
        }
    }
    return env;
}

}  // namespace carbon
