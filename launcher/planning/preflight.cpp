#include "planning/preflight.hpp"

#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

#include "exit_codes.hpp"

#ifndef _WIN32
#include <fcntl.h>
#include <sys/un.h>
#include <unistd.h>
#endif

namespace carbon {
namespace {

std::string or_root() {
#ifdef _WIN32
    return "";
#else
    return ::geteuid() == 0 ? "" : ", or run as root";
#endif
}

/// Creates `dir` (and its parents) and writes a probe file into it.
void check_writable_dir(const std::filesystem::path& dir, const std::filesystem::path& state_dir) {
    const std::string what = "cannot use the state dir " + state_dir.string() +
                             (dir == state_dir ? "" : " (" + dir.filename().string() + "/ in it)") +
                             ": ";
    const std::string todo =
        "; pass --state-dir DIR with a directory this user can write" + or_root();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        throw ExitError(kExitIo,
                        what + "cannot create " + dir.string() + " (" + ec.message() + ")" + todo);
    }
    if (!std::filesystem::is_directory(dir, ec)) {
        throw ExitError(kExitIo, what + dir.string() + " is not a directory" + todo);
    }
#ifdef _WIN32
    const auto probe = dir / ".carbon-launcher-preflight";
    errno = 0;
    bool written = false;
    {
        std::ofstream out(probe);
        written = static_cast<bool>(out << "probe\n");
    }
    const int error = errno;
    std::filesystem::remove(probe, ec);
    if (!written) {
        throw ExitError(kExitIo, what + "cannot write in " + dir.string() + " (" +
                                     std::generic_category().message(error) + ")" + todo);
    }
#else
    // An unnamed file: nothing is left behind, even if the launcher dies right here.
    int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        std::string name = (dir / ".preflight-XXXXXX").string();
        fd = ::mkstemp(name.data());
        if (fd >= 0) {
            ::unlink(name.c_str());
        }
    }
    if (fd < 0) {
        const int error = errno;
        throw ExitError(kExitIo, what + "cannot write in " + dir.string() + " (" +
                                     std::strerror(error) + ")" + todo);
    }
    ::close(fd);
#endif
}

#ifndef _WIN32
/// The socket's directory exists and this user may create files in it, or the nearest existing
/// ancestor lets this user create it.
void check_socket_path(const std::filesystem::path& socket) {
    const std::string todo = "pass --socket PATH in a directory this user can write" + or_root();
    if (socket.string().size() >= sizeof(sockaddr_un::sun_path)) {
        throw ExitError(kExitUsage, "the control socket path " + socket.string() + " is " +
                                        std::to_string(socket.string().size()) +
                                        " bytes, more than a Unix socket address holds (" +
                                        std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                        "): pass a shorter --socket PATH");
    }
    const auto dir = std::filesystem::absolute(socket).parent_path();
    auto existing = dir;
    std::error_code ec;
    while (!std::filesystem::exists(existing, ec) && existing.has_relative_path()) {
        existing = existing.parent_path();
    }
    if (!std::filesystem::is_directory(existing, ec)) {
        throw ExitError(kExitIo, "cannot create the control socket " + socket.string() + ": " +
                                     existing.string() + " is not a directory; " + todo);
    }
    if (::faccessat(AT_FDCWD, existing.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
        const int error = errno;
        throw ExitError(kExitIo,
                        "cannot create the control socket " + socket.string() + ": " +
                            (existing == dir ? "" : "cannot create " + dir.string() + ", ") +
                            existing.string() + " is not writable by this user (" +
                            std::strerror(error) + "); " + todo);
    }
}
#endif

}  // namespace

void preflight_state_dir(const std::filesystem::path& state_dir) {
    check_writable_dir(state_dir, state_dir);
    check_writable_dir(state_dir / "logs", state_dir);
    check_writable_dir(state_dir / "instances", state_dir);
}

void preflight_run(const std::filesystem::path& state_dir, const std::filesystem::path& socket) {
    preflight_state_dir(state_dir);
#ifndef _WIN32
    check_socket_path(socket);
#else
    (void)socket;  // a named pipe: nothing on disk to check
#endif
}

std::unique_ptr<ControlServer> open_control_socket(boost::asio::io_context& io,
                                                   const ControlSocketOptions& options,
                                                   ControlHandler& handler) {
    const auto fail = [&](const std::string& error) {
        return ExitError(
            kExitIo, "cannot listen on the control socket " + options.path.string() + " (" + error +
                         "): pass --socket PATH in a directory this user can write" + or_root());
    };
    try {
        return std::make_unique<ControlServer>(io, options, handler);
    } catch (const boost::system::system_error& e) {  // the bind or listen
        throw fail(e.code().message());
    } catch (const std::filesystem::filesystem_error& e) {  // the directory
        throw fail(e.code().message() + ": " + e.path1().string());
    }
}

}  // namespace carbon
