#include "health/thread_dump.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

namespace carbon {
namespace {

// 20261130T130512.345Z: names of one instance's dumps sort by time (one capture at a time, each
// at least `quiet` long, so two never share a millisecond).
std::string utc_stamp() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm utc{};
#ifdef _WIN32
    gmtime_s(&utc, &seconds);
#else
    gmtime_r(&seconds, &utc);
#endif
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%S", &utc);
    char with_millis[48];
    std::snprintf(with_millis, sizeof with_millis, "%s.%03dZ", text, static_cast<int>(millis));
    return with_millis;
}

// NAME-STAMP.txt, or NAME-STAMP-2.txt should a file of that name exist already.
std::filesystem::path fresh_dump_file(const DumpPolicy& policy) {
    const std::string stem = policy.instance + "-" + utc_stamp();
    std::filesystem::path file = policy.directory / (stem + ".txt");
    for (int n = 2; std::filesystem::exists(file) && n < 100; ++n) {
        file = policy.directory / (stem + "-" + std::to_string(n) + ".txt");
    }
    return file;
}

}  // namespace

ThreadDumpCapture::ThreadDumpCapture(boost::asio::io_context& io, DumpPolicy policy,
                                     const std::string& header,
                                     std::function<void(const std::filesystem::path&)> done)
    : policy_(std::move(policy)),
      deadline_(SupervisionClock::now() + policy_.limit),
      timer_(io),
      done_(std::move(done)) {
    std::error_code ec;
    std::filesystem::create_directories(policy_.directory, ec);
    file_ = fresh_dump_file(policy_);
    out_.open(file_, std::ios::binary);
    if (!out_) {
        spdlog::error("{}: cannot write the thread dump to {}; it is only in the instance's log",
                      policy_.instance, file_.string());
    }
    out_ << header << "\n\n";
    remove_old_dumps();
    arm(policy_.limit);
}

ThreadDumpCapture::~ThreadDumpCapture() = default;

void ThreadDumpCapture::on_output(std::string_view chunk) {
    if (finished_) {
        return;
    }
    const auto room = policy_.max_bytes > written_ ? policy_.max_bytes - written_ : 0;
    const auto kept = std::min<std::uintmax_t>(room, chunk.size());
    out_.write(chunk.data(), static_cast<std::streamsize>(kept));
    written_ += kept;
    // The dump is output in one burst: wait for the pause after it, within the overall limit.
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - SupervisionClock::now());
    arm(std::min(policy_.quiet, std::max(left, std::chrono::milliseconds(0))));
}

void ThreadDumpCapture::arm(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            finish();
        }
    });
}

void ThreadDumpCapture::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    if (written_ >= policy_.max_bytes) {
        out_ << "\n[carbon-launcher] cut off at " << policy_.max_bytes << " bytes\n";
    }
    out_.close();
    done_(file_);
}

// The newest `keep_files` of this instance stay (names sort by time).
void ThreadDumpCapture::remove_old_dumps() const {
    std::vector<std::filesystem::path> dumps;
    std::error_code ec;
    const std::string prefix = policy_.instance + "-";
    for (const auto& entry : std::filesystem::directory_iterator(policy_.directory, ec)) {
        const std::string name = entry.path().filename().string();
        // NAME-YYYYMMDDT...: not the dumps of an instance whose name merely starts with NAME-.
        const bool ours = name.rfind(prefix, 0) == 0 && name.size() > prefix.size() + 8 &&
                          std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()),
                                      name.begin() + static_cast<std::ptrdiff_t>(prefix.size()) + 8,
                                      [](char c) { return c >= '0' && c <= '9'; }) &&
                          name[prefix.size() + 8] == 'T';
        if (ours && entry.path().extension() == ".txt") {
            dumps.push_back(entry.path());
        }
    }
    std::sort(dumps.begin(), dumps.end());
    for (std::size_t i = 0; i + policy_.keep_files < dumps.size(); ++i) {
        std::filesystem::remove(dumps[i], ec);
    }
}

}  // namespace carbon
