#include <doctest/doctest.h>
#include <sys/stat.h>

#include "os/atomic_file.hpp"
#include "test_support.hpp"

using namespace carbon;

TEST_CASE("an atomic write replaces the content and keeps the mode") {
    test::TempDir dir;
    const auto file = dir / "deployment.yaml";
    test::write_file(file, "old\n");
    ::chmod(file.c_str(), 0640);
    write_file_atomically(file, "new\n");
    CHECK(test::read_file(file) == "new\n");
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        ++entries;
    }
    CHECK(entries == 1);
}

TEST_CASE("a failed atomic write leaves the original and no temp file") {
    test::TempDir dir;
    const auto file = dir / "sub/missing-dir/file";
    CHECK_THROWS_WITH(write_file_atomically(file, "x"),
                      doctest::Contains("cannot create a temp file"));
}

TEST_CASE("stale temp files of a killed write are removed") {
    test::TempDir dir;
    const auto file = dir / "deployment.yaml";
    test::write_file(dir / ".deployment.yaml.carbon-launcher-tmp.abc123", "partial");
    test::write_file(dir / "other", "keep");
    remove_stale_temp_files(file);
    CHECK_FALSE(std::filesystem::exists(dir / ".deployment.yaml.carbon-launcher-tmp.abc123"));
    CHECK(std::filesystem::exists(dir / "other"));
}
