#include "supervision/rotating_log.hpp"

#include "supervision/rotating_log_native.hpp"

namespace carbon {

RotatingLog::RotatingLog(std::filesystem::path file, std::uintmax_t max_bytes, int max_files)
    : file_(std::move(file)),
      max_bytes_(max_bytes),
      max_files_(max_files),
      native_(std::make_unique<Native>()) {
    std::filesystem::create_directories(file_.parent_path());
    size_ = native_->open(file_);
}

RotatingLog::~RotatingLog() = default;

void RotatingLog::rotate() {
    native_->close();
    shift_rotated_files(file_, max_files_);
    size_ = native_->open(file_);
}

void RotatingLog::write(std::string_view bytes) {
    if (size_ > 0 && size_ + bytes.size() > max_bytes_) {
        rotate();
    }
    // Not open (the log dir vanished, or something not a file is at the path): keep
    // supervising, lose only the output.
    size_ += native_->write(bytes);
}

void shift_rotated_files(const std::filesystem::path& file, int max_files) {
    std::error_code ec;
    const auto numbered = [&](int n) {
        return std::filesystem::path(file.string() + "." + std::to_string(n));
    };
    std::filesystem::remove(numbered(max_files - 1), ec);
    for (int n = max_files - 2; n >= 1; --n) {
        std::filesystem::rename(numbered(n), numbered(n + 1), ec);
    }
    if (max_files > 1) {
        std::filesystem::rename(file, numbered(1), ec);
    } else {
        std::filesystem::remove(file, ec);
    }
}

}  // namespace carbon
