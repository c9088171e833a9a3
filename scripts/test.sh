#!/usr/bin/env bash
# Installs what is missing, builds with AddressSanitizer and UBSan, warnings as errors, and runs
# every test (unit and end-to-end); then cross-builds for Windows and runs the Windows tests
# under Wine (scripts/test-windows.sh; CARBON_SKIP_WINDOWS=1 skips that part). The README's test
# command and CI's.
#
# As root, each test runs in a private network namespace with only a loopback interface: the
# host may hold 9443, 7070 or any other WSO2 port for its own reasons, and the tests' sockets
# never reach the host's network. CARBON_TEST_SHARED_NET=1 runs them in the host's namespace.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$repo/build-test}

# The Windows build's packages are installed in one apt transaction with the Linux build's, and
# its sources fetched, before anything compiles: apt is never busy in the background.
if [[ ${CARBON_SKIP_WINDOWS:-0} != 1 ]]; then
    "$repo/scripts/install-windows-deps.sh" --fetch-only
fi
# Debian's python3 has python3-yaml (installed by install-deps) and tomllib for the e2e tests.
"$repo/scripts/build.sh" -DCMAKE_BUILD_TYPE=Debug -DCARBON_SANITIZE=ON -DCARBON_WERROR=ON \
    -DCMAKE_INSTALL_PREFIX=/usr -DCARBON_UNITY=ON \
    -DPython3_EXECUTABLE=/usr/bin/python3
echo "test: built at ${SECONDS} s"

# The Windows cross-build compiles while the tests run: they mostly wait on their processes
# (the CPU was 39 % busy during a serial run). It runs in a session of its own, ended by that id
# should this script stop early.
windows_build=
if [[ ${CARBON_SKIP_WINDOWS:-0} != 1 ]]; then
    windows_log=$(mktemp /tmp/carbon-windows-build-XXXXXX.log)
    # Its own build folder: this script's BUILD_DIR is the Linux build's (the one test-windows.sh uses)
    BUILD_DIR=${WIN_BUILD_DIR:-$repo/build-win} setsid "$repo/scripts/build-windows.sh" >"$windows_log" 2>&1 &
    windows_build=$!
    trap '[[ -z $windows_build ]] || kill -- "-$windows_build" 2>/dev/null || true' EXIT
    echo "test: cross-building for Windows in the background (log: $windows_log)"
fi

# Each test runs in a network namespace of its own (tests/isolated.sh) when root, so ctest can
# run several side by side without one test's ports showing up in another's plan.
jobs=1
if [[ ${CARBON_TEST_SHARED_NET:-0} != 1 && $(id -u) -eq 0 ]] && unshare --net true 2>/dev/null; then
    jobs=$(nproc)
    ((jobs <= 4)) || jobs=4  # most of a test's time is spent waiting on its processes
    echo "test: each test in a private network namespace of its own (loopback only), $jobs at a time"
else
    echo "test: running the tests in the host's network namespace (not root, or no unshare), one at a time"
fi
# The Debian root of the tests under a real systemd (tests/systemd/harness.py), made here while
# the network is there; without it e2e_systemd_pid1 is reported as skipped, with the reason.
/usr/bin/python3 "$repo/tests/systemd/harness.py" prepare "$BUILD_DIR" ||
    echo "test: no Debian root for tests/systemd (see above): e2e_systemd_pid1 will be skipped"
echo "test: systemd root ready at ${SECONDS} s"
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 600 -j "$jobs" "$@")
echo "test: ctest done at ${SECONDS} s"
if [[ -n $windows_build ]]; then
    status=0
    wait "$windows_build" || status=$?
    windows_build=
    cat "$windows_log"
    rm -f "$windows_log"
    ((status == 0)) || { echo "test: the Windows cross-build failed (exit $status)"; exit "$status"; }
    echo "test: Windows cross-build done at ${SECONDS} s"
    "$repo/scripts/test-windows.sh"  # its build step finds everything built; its tests choose free offsets
fi
