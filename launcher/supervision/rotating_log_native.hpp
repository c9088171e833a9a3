#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "supervision/rotating_log.hpp"

namespace carbon {

/// The platform's half of RotatingLog: one open log file. Defined by rotating_log_posix.cpp or
/// rotating_log_windows.cpp; the rotation rules are in rotating_log.cpp.
struct RotatingLog::Native {
    Native() = default;
    Native(const Native&) = delete;
    Native& operator=(const Native&) = delete;
    ~Native() { close(); }

    /// Opens `file` for appending; its size now, or 0 when it could not be opened (logged).
    std::uintmax_t open(const std::filesystem::path& file);
    /// Appends; the bytes written (0 when not open).
    std::uintmax_t write(std::string_view bytes);
    void close();

#ifdef _WIN32
    void* handle = nullptr;  // a HANDLE
#else
    int fd = -1;
#endif
};

}  // namespace carbon
