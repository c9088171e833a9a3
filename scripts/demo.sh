#!/usr/bin/env bash
# The built-in demo: builds carbon-launcher, lays out five simulated runtime homes (3 API-M,
# 1 SI, 1 SI Tooling) in a temp folder, shows the plan, then runs the launcher in the
# foreground. Ctrl-C stops every instance gracefully.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$repo/build}
"$repo/scripts/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo
demo=$(mktemp -d /tmp/carbon-demo-XXXXXX)
"$repo/scripts/make-demo-homes.sh" "$demo" "$BUILD_DIR/bin/carbon-sim"
launcher="$BUILD_DIR/bin/carbon-launcher"
echo
echo "\$ carbon-launcher plan --profiles $demo/profiles --state-dir $demo/state"
"$launcher" plan --profiles "$demo/profiles" --state-dir "$demo/state" | grep -E '^[a-z]|  url'
echo
echo "\$ carbon-launcher run --profiles $demo/profiles --state-dir $demo/state   (Ctrl-C to stop)"
echo "  instance logs: $demo/state/logs/; demo files stay in $demo (rm -rf $demo)"
exec "$launcher" run --profiles "$demo/profiles" --state-dir "$demo/state"
