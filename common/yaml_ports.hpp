#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "port_table.hpp"

namespace carbon {

/// Reads the scalar at `path` ("a/b/[id=x]/c"; `[k=v]` picks the sequence element whose key k,
/// or nested key path "k1:k2", equals v) from YAML text. Throws ConfigError for a YAML syntax
/// error, naming `source` with line and column.
std::optional<std::string> read_yaml_scalar(const std::string& yaml_text, const std::string& path,
                                            const std::filesystem::path& source);

/// The base of every table port that has a `yaml_path` present in the file, as an operator
/// configured it (the file's listener ports are bases: the offset is added on top).
std::map<std::string, int> read_yaml_ports(const std::string& yaml_text, const RuntimeTable& table,
                                           const std::filesystem::path& source);

}  // namespace carbon
