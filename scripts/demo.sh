#!/usr/bin/env bash
# The built-in demo: builds carbon-launcher, lays out five simulated runtime homes (3 API-M,
# 1 SI, 1 SI Tooling) in a temp folder, and shows the plan for them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$repo/build}
"$repo/scripts/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo
demo=$(mktemp -d /tmp/carbon-demo-XXXXXX)
"$repo/scripts/make-demo-homes.sh" "$demo"
launcher="$BUILD_DIR/bin/carbon-launcher"
echo
echo "\$ carbon-launcher plan --profiles $demo/profiles --state-dir $demo/state"
"$launcher" plan --profiles "$demo/profiles" --state-dir "$demo/state"
echo
echo "The demo files stay in $demo (remove them with: rm -rf $demo)"
