# The Windows cross-build's dependencies. Debian's CMake package files describe the Linux
# libraries, so here they are named directly: header-only libraries from Debian's -dev
# packages, and the two compiled ones (Boost.Program_options, yaml-cpp) that
# scripts/install-windows-deps.sh builds from Debian's source packages into CARBON_WIN_DEPS.
set(CARBON_WIN_DEPS "${PROJECT_SOURCE_DIR}/build-win-deps" CACHE PATH
    "Folder made by scripts/install-windows-deps.sh (include/ and lib/)")
if(NOT EXISTS "${CARBON_WIN_DEPS}/lib/libboost_program_options.a")
  message(FATAL_ERROR "${CARBON_WIN_DEPS} has no Windows libraries: run "
                      "scripts/install-windows-deps.sh ${CARBON_WIN_DEPS} first")
endif()
set(win_include "${CARBON_WIN_DEPS}/include")

add_library(Boost::program_options STATIC IMPORTED)
set_target_properties(Boost::program_options PROPERTIES
  IMPORTED_LOCATION "${CARBON_WIN_DEPS}/lib/libboost_program_options.a"
  INTERFACE_INCLUDE_DIRECTORIES "${win_include}")
add_library(yaml-cpp STATIC IMPORTED)
set_target_properties(yaml-cpp PROPERTIES
  IMPORTED_LOCATION "${CARBON_WIN_DEPS}/lib/libyaml-cpp.a"
  INTERFACE_INCLUDE_DIRECTORIES "${win_include}"
  INTERFACE_COMPILE_DEFINITIONS YAML_CPP_STATIC_DEFINE)
# Debian's spdlog is configured for an external fmt: use fmt's headers in header-only mode.
add_library(spdlog::spdlog INTERFACE IMPORTED)
set_target_properties(spdlog::spdlog PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${win_include}"
  INTERFACE_COMPILE_DEFINITIONS "FMT_HEADER_ONLY;SPDLOG_FMT_EXTERNAL")
foreach(header_only nlohmann_json::nlohmann_json tomlplusplus::tomlplusplus doctest::doctest)
  add_library(${header_only} INTERFACE IMPORTED)
  set_target_properties(${header_only} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${win_include}")
endforeach()
set(doctest_FOUND TRUE)

# Windows 10 APIs, asio's sockets, the IP helper (port owners), the SCM and security APIs.
add_library(carbon_windows_system INTERFACE)
target_compile_definitions(carbon_windows_system INTERFACE
  _WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX)
target_link_libraries(carbon_windows_system INTERFACE ws2_32 mswsock iphlpapi advapi32)
# One self-contained .exe: no libstdc++/winpthread DLLs to ship beside it.
add_link_options(-static)
add_compile_definitions(_WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX)
# GCC 12's -Wrestrict reports std::string inlining in libstdc++ itself (GCC bug 105329).
add_compile_options(-Wno-restrict)
