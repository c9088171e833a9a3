#!/usr/bin/env bash
# Installs what is missing, builds with AddressSanitizer and UBSan, warnings as errors, and runs
# every test (unit and end-to-end); then cross-builds for Windows and runs the Windows tests
# under Wine (scripts/test-windows.sh; CARBON_SKIP_WINDOWS=1 skips that part). The README's test
# command and CI's.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$repo/build-test}
# Debian's python3 has python3-yaml (installed by install-deps) and tomllib for the e2e tests.
"$repo/scripts/build.sh" -DCMAKE_BUILD_TYPE=Debug -DCARBON_SANITIZE=ON -DCARBON_WERROR=ON \
    -DCMAKE_INSTALL_PREFIX=/usr \
    -DPython3_EXECUTABLE=/usr/bin/python3
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 600 "$@")
if [[ ${CARBON_SKIP_WINDOWS:-0} != 1 ]]; then
    "$repo/scripts/test-windows.sh"
fi
