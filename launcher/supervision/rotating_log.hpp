#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

namespace carbon {

/// An append-only log file rotated by size: NAME.log, NAME.log.1 ... NAME.log.(max_files-1).
/// A chunk is never split across a rotation, so nothing is lost or interleaved.
class RotatingLog {
  public:
    RotatingLog(std::filesystem::path file, std::uintmax_t max_bytes, int max_files);
    ~RotatingLog();
    RotatingLog(const RotatingLog&) = delete;
    RotatingLog& operator=(const RotatingLog&) = delete;

    void write(std::string_view bytes);
    const std::filesystem::path& path() const { return file_; }

  private:
    void rotate();

    /// The open file (a descriptor or a HANDLE): rotating_log_posix.cpp / _windows.cpp.
    struct Native;
    std::filesystem::path file_;
    std::uintmax_t max_bytes_;
    int max_files_;
    std::unique_ptr<Native> native_;
    std::uintmax_t size_ = 0;
};

/// NAME.log.(N-1) goes, each NAME.log.k becomes NAME.log.(k+1), NAME.log becomes NAME.log.1
/// (with max_files 1, NAME.log just goes). The caller has closed NAME.log.
void shift_rotated_files(const std::filesystem::path& file, int max_files);

/// The last `lines` lines of a log file (at most its last MiB), "" when it does not exist;
/// throws ProtocolError ("log-unreadable") when something other than a regular file is there.
std::string tail_lines(const std::filesystem::path& file, int lines);

}  // namespace carbon
