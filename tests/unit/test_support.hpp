#pragma once

#include <filesystem>
#include <string>

#include "port_table.hpp"

namespace carbon::test {

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& content);
std::string read_file(const std::filesystem::path& path);

/// A minimal home of `runtime` (its start script and, for the SI family, a small
/// deployment.yaml of the project's own) at `home`.
void make_home(const std::filesystem::path& home, const std::string& runtime);

/// The port tables from the source tree.
const RuntimeCatalog& source_catalog();

/// ../shared/fixtures/real, or "" when absent.
std::filesystem::path real_fixtures();

/// For `TEST_CASE(... * doctest::skip(test::no_real_fixtures()))`: a test of the real WSO2 files
/// is reported as skipped, never as passed, when the folder is absent.
bool no_real_fixtures();

}  // namespace carbon::test
