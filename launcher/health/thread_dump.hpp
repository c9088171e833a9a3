#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

#include "supervision/supervision_clock.hpp"

namespace carbon {

/// Where an instance's thread dumps go and how many are kept: like logs, they are bounded.
struct DumpPolicy {
    std::filesystem::path directory;  // STATE/dumps
    std::string instance;
    std::size_t keep_files = 5;                  // per instance, the newest
    std::uintmax_t max_bytes = 8 * 1024 * 1024;  // per dump; the rest is cut off
    std::chrono::milliseconds quiet{500};        // the dump is over once output pauses this long
    std::chrono::milliseconds limit{5000};       // and at the latest after this
};

/// One thread dump being captured. The JVM prints it on its stdout, which the instance's output
/// pipe already carries into its log; while the capture is open every chunk is also written to
/// STATE/dumps/NAME-YYYYMMDDTHHMMSS.mmmZ.txt. A JVM prints its dump in one burst (threads, then any
/// "Found one Java-level deadlock" section, then the heap summary) and then falls silent, so the
/// capture closes after `quiet` without output, or after `limit` whatever happens (a JVM too hung
/// to answer SIGQUIT, or one that died meanwhile). `done` gets the file; it is called once, from
/// a handler on the loop, and never after the capture is destroyed.
class ThreadDumpCapture {
  public:
    ThreadDumpCapture(boost::asio::io_context& io, DumpPolicy policy, const std::string& header,
                      std::function<void(const std::filesystem::path&)> done);
    ~ThreadDumpCapture();
    ThreadDumpCapture(const ThreadDumpCapture&) = delete;
    ThreadDumpCapture& operator=(const ThreadDumpCapture&) = delete;

    /// A chunk of the instance's output, while the capture is open.
    void on_output(std::string_view chunk);
    bool open() const { return !finished_; }
    const std::filesystem::path& file() const { return file_; }

  private:
    void arm(std::chrono::milliseconds after);
    void finish();
    void remove_old_dumps() const;

    DumpPolicy policy_;
    std::filesystem::path file_;
    std::ofstream out_;
    std::uintmax_t written_ = 0;
    bool finished_ = false;
    SupervisionClock::time_point deadline_;
    SupervisionTimer timer_;
    std::function<void(const std::filesystem::path&)> done_;
};

}  // namespace carbon
