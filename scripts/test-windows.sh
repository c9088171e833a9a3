#!/usr/bin/env bash
# The Windows build's tests, on Linux: cross-builds carbon-launcher.exe (scripts/build-windows.sh),
# then under Wine, in private prefixes that are deleted afterwards:
#   1. unit_tests.exe: common/ built for Windows
#   2. windows_launcher_tests.exe: the Windows platform files (job objects, TCP table, locks)
#   3. tests/windows/test_windows.py: console mode with two API-M instances behind a fake
#      api-manager.bat, killing the launcher ends them (job), and the SCM service round trip;
#      behind a .bat that wipes tmp and ends as WSO2's does: the tmp guard (a missing HOME\tmp is
#      created, tmp as a file or link is exit 78 with nothing started) and the JVM's exit code
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${WIN_BUILD_DIR:-$repo/build-win}
"$repo/scripts/build-windows.sh"

export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
WINEPREFIX=$(mktemp -d /tmp/carbon-wine-unit-XXXXXX)
export WINEPREFIX
cleanup() {
    wineserver -k 2>/dev/null || true
    rm -rf "$WINEPREFIX"
}
trap cleanup EXIT
wineboot -i >/dev/null 2>&1
wineserver -w

run_under_wine() { # doctest's report goes to a file (ends lines with CRLF), shown either way
    echo "== $1 (Windows build, under Wine)"
    local report="$WINEPREFIX/$1.txt" status=0
    wine "$BUILD_DIR/bin/$1" --no-version --out="$(winepath -w "$report")" || status=$?
    tr -d '\r' < "$report"
    return "$status"
}
run_under_wine unit_tests.exe
run_under_wine windows_launcher_tests.exe

echo "== tests/windows/test_windows.py (end to end under Wine)"
cd "$repo/tests/windows"
CARBON_WIN_BUILD=$BUILD_DIR PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m unittest -v test_windows
