#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace carbon {

struct SpawnSpec {
    std::filesystem::path executable;
    std::vector<std::string> args;  // without argv[0]
    std::vector<std::string> env;   // "NAME=value"
    std::filesystem::path cwd;
    std::optional<std::pair<unsigned, unsigned>> run_as;  // uid, gid: drop privileges in the child
};

struct Spawned {
    int pid = -1;        // also the process group id: the child leads a new session
    int output_fd = -1;  // read end of the pipe that carries its stdout and stderr
};

/// Starts a child in a new session, so that it and everything it starts (the JVM under the
/// start script) form one process group to signal together. stdin is /dev/null. The child is
/// not waited for here: the supervisor reaps every child through one SIGCHLD handler.
/// Throws std::system_error when the spawn fails.
Spawned spawn_in_new_session(const SpawnSpec& spec);

}  // namespace carbon
