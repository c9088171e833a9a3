// Thread dump files (launcher/health/thread_dump): what the JVM prints goes into the file until it
// falls quiet, each file is cut at its size cap, and only the newest few per instance are kept.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "health/thread_dump.hpp"
#include "test_support.hpp"

using namespace carbon;
using std::chrono::milliseconds;

namespace {

DumpPolicy small_policy(const std::filesystem::path& directory) {
    DumpPolicy policy{directory, "apim-1"};
    policy.keep_files = 2;
    policy.max_bytes = 64;
    policy.quiet = milliseconds(1);
    policy.limit = milliseconds(200);
    return policy;
}

/// Runs the loop until the capture has called back (bounded).
std::filesystem::path capture(boost::asio::io_context& io, const DumpPolicy& policy,
                              const std::string& output) {
    std::filesystem::path written;
    ThreadDumpCapture dump(io, policy, "header",
                           [&](const std::filesystem::path& file) { written = file; });
    dump.on_output(output);
    for (int round = 0; round < 100 && written.empty(); ++round) {
        io.run_one_for(milliseconds(100));
    }
    io.restart();
    REQUIRE_FALSE(written.empty());
    CHECK_FALSE(dump.open());
    return written;
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& directory) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

TEST_CASE("thread dump: the JVM's output goes into the file, cut at the size cap") {
    test::TempDir dir;
    boost::asio::io_context io;
    const auto file = capture(io, small_policy(dir.path()), std::string(100, 'x'));
    const std::string text = test::read_file(file);
    CHECK(text.rfind("header\n\n", 0) == 0);
    CHECK(text.find(std::string(64, 'x')) != std::string::npos);
    CHECK(text.find(std::string(65, 'x')) == std::string::npos);
    CHECK(text.find("cut off at 64 bytes") != std::string::npos);
}

TEST_CASE("thread dump: only the newest files of the instance are kept, others' never touched") {
    test::TempDir dir;
    boost::asio::io_context io;
    test::write_file(dir / "apim-1-b-20200101T000000.000Z.txt", "another instance's dump");
    test::write_file(dir / "notes.txt", "not a dump");
    std::vector<std::filesystem::path> written;
    for (int i = 0; i < 4; ++i) {
        written.push_back(capture(io, small_policy(dir.path()), "dump " + std::to_string(i)));
    }
    const auto left = files_in(dir.path());
    CHECK(std::count(left.begin(), left.end(), written[2]) == 1);
    CHECK(std::count(left.begin(), left.end(), written[3]) == 1);
    CHECK(std::count(left.begin(), left.end(), written[0]) == 0);
    CHECK(std::count(left.begin(), left.end(), written[1]) == 0);
    CHECK(std::filesystem::exists(dir / "apim-1-b-20200101T000000.000Z.txt"));
    CHECK(std::filesystem::exists(dir / "notes.txt"));
}
