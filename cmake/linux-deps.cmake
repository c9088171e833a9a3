# The Linux build's dependencies, all from Debian's -dev packages.
#
# The C++ libraries that no other process on a server maps (spdlog, fmt, toml++, yaml-cpp,
# Boost.Program_options) are linked into the binary: header-only, or from the static archive that
# Debian ships beside the shared one. Loaded as shared libraries, they cost the daemon 1.35 MiB
# that only it held: their symbol tables, their relocations and the text around every function it
# calls. Linked in, with --gc-sections, they add 0.4 MiB to the binary (issue 15: measured with
# bench/bench_supervise.py, which splits the daemon's USS by owner). The Windows build links the
# same way (windows-deps.cmake), and so is libstdc++ (CMakeLists.txt). OpenSSL stays shared:
# other processes on a host map it too (sshd on Debian 12), and its security updates reach the
# daemon with Debian's. No libsystemd: the launcher speaks systemd's notify protocol itself
# (common/notify_protocol.hpp).
set(Boost_USE_STATIC_LIBS ON)
find_package(Boost 1.81 REQUIRED COMPONENTS program_options)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(fmt 9 REQUIRED)
find_package(Threads REQUIRED)

function(carbon_require_file variable what)
  if(NOT ${variable})
    message(FATAL_ERROR "${what} not found: install it with apt-get install ${ARGN}")
  endif()
endfunction()

# spdlog in header-only mode over fmt's header-only mode: Debian's spdlog is built for an
# external fmt (SPDLOG_FMT_EXTERNAL), and its header-only headers follow the same choice.
find_path(CARBON_SPDLOG_INCLUDE spdlog/spdlog.h)
carbon_require_file(CARBON_SPDLOG_INCLUDE "spdlog/spdlog.h" libspdlog-dev)
add_library(spdlog::spdlog INTERFACE IMPORTED)
set_target_properties(spdlog::spdlog PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${CARBON_SPDLOG_INCLUDE}"
  INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL"
  INTERFACE_LINK_LIBRARIES "fmt::fmt-header-only;Threads::Threads")

# toml++ is a header-only library first; Debian also builds it as a shared one.
find_path(CARBON_TOML_INCLUDE toml++/toml.h)
carbon_require_file(CARBON_TOML_INCLUDE "toml++/toml.h" libtomlplusplus-dev)
add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
set_target_properties(tomlplusplus::tomlplusplus PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${CARBON_TOML_INCLUDE}"
  INTERFACE_COMPILE_DEFINITIONS "TOML_HEADER_ONLY=1")

find_path(CARBON_YAML_CPP_INCLUDE yaml-cpp/yaml.h)
find_library(CARBON_YAML_CPP_ARCHIVE libyaml-cpp.a)
carbon_require_file(CARBON_YAML_CPP_ARCHIVE "libyaml-cpp.a" libyaml-cpp-dev)
add_library(yaml-cpp STATIC IMPORTED)
set_target_properties(yaml-cpp PROPERTIES
  IMPORTED_LOCATION "${CARBON_YAML_CPP_ARCHIVE}"
  INTERFACE_INCLUDE_DIRECTORIES "${CARBON_YAML_CPP_INCLUDE}")
