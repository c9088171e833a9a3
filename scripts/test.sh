#!/usr/bin/env bash
# Installs what is missing, builds with AddressSanitizer and UBSan, warnings as errors, and runs
# every test (unit and end-to-end); then cross-builds for Windows and runs the Windows tests
# under Wine (scripts/test-windows.sh; CARBON_SKIP_WINDOWS=1 skips that part). The README's test
# command and CI's.
#
# As root, the tests run in a private network namespace with only a loopback interface: the
# host may hold 9443, 7070 or any other WSO2 port for its own reasons, and the tests' sockets
# never reach the host's network. CARBON_TEST_SHARED_NET=1 runs them in the host's namespace.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$repo/build-test}
# Debian's python3 has python3-yaml (installed by install-deps) and tomllib for the e2e tests.
"$repo/scripts/build.sh" -DCMAKE_BUILD_TYPE=Debug -DCARBON_SANITIZE=ON -DCARBON_WERROR=ON \
    -DCMAKE_INSTALL_PREFIX=/usr -DCARBON_UNITY=ON \
    -DPython3_EXECUTABLE=/usr/bin/python3
echo "test: built at ${SECONDS} s"

isolated=()
if [[ ${CARBON_TEST_SHARED_NET:-0} != 1 && $(id -u) -eq 0 ]] && unshare --net true 2>/dev/null; then
    isolated=(unshare --net sh -c 'ip link set lo up && exec "$@"' isolated)
    echo "test: running the tests in a private network namespace (loopback only)"
else
    echo "test: running the tests in the host's network namespace (not root, or no unshare)"
fi
# The Debian root of the tests under a real systemd (tests/systemd/harness.py), made here while
# the network is there; without it e2e_systemd_pid1 is reported as skipped, with the reason.
/usr/bin/python3 "$repo/tests/systemd/harness.py" prepare "$BUILD_DIR" ||
    echo "test: no Debian root for tests/systemd (see above): e2e_systemd_pid1 will be skipped"
echo "test: systemd root ready at ${SECONDS} s"
(cd "$BUILD_DIR" && "${isolated[@]}" ctest --output-on-failure --timeout 600 "$@")
echo "test: ctest done at ${SECONDS} s"
if [[ ${CARBON_SKIP_WINDOWS:-0} != 1 ]]; then
    "$repo/scripts/test-windows.sh"  # builds (apt-get) first; its tests choose free offsets
fi
