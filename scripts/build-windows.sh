#!/usr/bin/env bash
# Cross-builds carbon-launcher.exe, carbon-sim.exe and the Windows tests into BUILD_DIR
# (default build-win/), after installing the toolchain and building the two compiled
# dependencies from Debian's source packages (scripts/install-windows-deps.sh, once).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build-win}
deps_dir=${CARBON_WIN_DEPS:-$repo/build-win-deps}
"$repo/scripts/install-windows-deps.sh" "$deps_dir"
cmake -S "$repo" -B "$build_dir" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/mingw-w64-x86_64.cmake" \
    -DCARBON_WIN_DEPS="$deps_dir" -DCMAKE_BUILD_TYPE=Release -DCARBON_WERROR=ON -DCARBON_UNITY=ON "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
