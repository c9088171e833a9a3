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

/// ../shared/fixtures/real, or "" when absent (tests then skip with a message).
std::filesystem::path real_fixtures();

}  // namespace carbon::test
