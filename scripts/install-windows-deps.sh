#!/usr/bin/env bash
# Installs what the Windows cross-build and its Wine tests need, from Debian packages only:
#   the MinGW-w64 compiler (posix threads, for std::thread/std::mutex), Wine, and the
#   Debian source packages of the two compiled libraries the launcher links
#   (boost1.81 for Boost.Program_options, yaml-cpp), built here for x86_64-w64-mingw32.
# Header-only dependencies (Boost, spdlog, fmt, nlohmann/json, doctest, toml++) come from the
# Debian -dev packages that scripts/install-deps.sh installs.
# Usage: scripts/install-windows-deps.sh [--fetch-only] [DEPS_DIR]   (default: build-win-deps)
#   --fetch-only: the packages and the two source trees, nothing compiled (scripts/test.sh does
#   this part first, in the foreground, so that its background cross-build never holds apt's lock)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
fetch_only=0
if [[ ${1:-} == --fetch-only ]]; then
    fetch_only=1
    shift
fi
deps=$(realpath -m "${1:-$here/build-win-deps}")
"$here/scripts/install-deps.sh" g++-mingw-w64-x86-64-posix wine wine64 dpkg-dev

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

# apt-get source needs deb-src lines: derive them from the machine's own deb822 sources,
# so the same mirror and snapshot serve the source as served the binaries.
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -e $f ]] || continue
        sed 's/^Types: deb$/Types: deb-src/' "$f" | "${sudo_cmd[@]}" tee "/etc/apt/sources.list.d/carbon-src-$(basename "$f")" >/dev/null
    done
    "${sudo_cmd[@]}" apt-get update -qq
fi

CXX=x86_64-w64-mingw32-g++-posix
AR=x86_64-w64-mingw32-ar
mkdir -p "$deps/src" "$deps/lib" "$deps/include"

# Headers the cross compiler may see. Not /usr/include itself: that holds glibc's headers.
for h in boost spdlog fmt nlohmann doctest toml++; do
    ln -sfn "/usr/include/$h" "$deps/include/$h"
done

build_static() { # NAME OUT_LIB SRC_DIR [extra flags...]
    local name=$1 lib=$2 src=$3; shift 3
    local obj="$deps/obj/$name"
    mkdir -p "$obj"
    # One compiler per core; xargs exits non-zero when any file fails to compile.
    printf '%s\0' "$src"/*.cpp | CXX=$CXX OBJ=$obj xargs -0 -n 1 -P "$(nproc)" bash -c \
        'cpp=${!#}; exec "$CXX" -std=c++17 -O2 -DNDEBUG "${@:1:$#-1}" -c "$cpp" -o "$OBJ/$(basename "${cpp%.cpp}").o"' \
        compile "$@"
    "$AR" rcs "$deps/lib/$lib" "$obj"/*.o
}

# The sources: Boost.Program_options from the boost1.81 source package (its headers are Debian's
# own copy of the same release in /usr/include/boost), and yaml-cpp (its headers come from the
# same tree).
if ! ls "$deps"/src/boost1.81_*.orig.tar.* >/dev/null 2>&1; then
    (cd "$deps/src" && apt-get source --download-only -qq boost1.81 >/dev/null)
fi
if ! ls -d "$deps"/src/yaml-cpp-*/ >/dev/null 2>&1; then
    (cd "$deps/src" && apt-get source -qq yaml-cpp >/dev/null 2>&1)
fi
if ((fetch_only)); then
    echo "install-windows-deps: packages and sources ready in $deps"
    exit 0
fi

if [[ ! -f $deps/lib/libboost_program_options.a ]]; then
    orig=$(ls "$deps"/src/boost1.81_*.orig.tar.* | head -1)
    tar -C "$deps/src" -xf "$orig" --wildcards '*/libs/program_options/src/*'
    po_src=$(ls -d "$deps"/src/boost*/libs/program_options/src | head -1)
    build_static program_options libboost_program_options.a "$po_src" -I"$deps/include"
    echo "install-windows-deps: built Boost.Program_options from $(basename "$orig")"
fi

if [[ ! -f $deps/lib/libyaml-cpp.a ]]; then
    ycpp=$(ls -d "$deps"/src/yaml-cpp-*/ | head -1)
    ln -sfn "$ycpp/include/yaml-cpp" "$deps/include/yaml-cpp"
    build_static yaml-cpp libyaml-cpp.a "$ycpp/src" -I"$ycpp/include" -DYAML_CPP_STATIC_DEFINE
    echo "install-windows-deps: built yaml-cpp from $(basename "$ycpp")"
fi
echo "install-windows-deps: ready in $deps"
