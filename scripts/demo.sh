#!/usr/bin/env bash
# The built-in demo: builds only what it runs (carbon-launcher and carbon-sim, Release -O1, in
# build-demo/, so the test build in build/ is left alone), lays out five simulated runtime homes
# (3 API-M, 1 SI, 1 SI Tooling) in a temp folder, shows the plan, then runs the launcher in the
# foreground. Ctrl-C stops every instance gracefully. Works as any user: the state dir and the
# control socket are inside the demo folder.
#   DEMO_BUILD_DIR=DIR  build somewhere else (default: build-demo/ in the checkout)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${DEMO_BUILD_DIR:-$repo/build-demo}
build=$(mkdir -p "$build" && cd "$build" && pwd)

"$repo/scripts/install-deps.sh"
echo "demo: configuring $build (Release, no tests or benchmarks)"
# -O1: the demo's processes mostly wait; it compiles a third faster than the default -O3.
# CARBON_UNITY: the libraries compile as a few large batches, so the heavy headers are read a
# few times instead of in every file (67 s instead of 145 s for a first build on 2 cores).
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" \
    -DCARBON_BUILD_TESTS=OFF -DCARBON_BUILD_BENCH=OFF -DCARBON_UNITY=ON >/dev/null
echo "demo: building carbon-launcher and carbon-sim (about two minutes on 2 cores the first time)"
cmake --build "$build" --target carbon-launcher carbon-sim -j "$(nproc)"
bin=$build/bin

demo=$(mktemp -d /tmp/carbon-demo-XXXXXX)
"$repo/scripts/make-demo-homes.sh" "$demo" "$bin/carbon-sim"
export PATH="$bin:$PATH"
where="--profiles $demo/profiles --state-dir $demo/state"
sock="--socket $demo/control.sock"

echo
echo "\$ export PATH=$bin:\$PATH"
echo "\$ carbon-launcher plan $where"
# shellcheck disable=SC2086  # $where is words on purpose, exactly as printed
carbon-launcher plan $where | grep -E '^[a-z]|  url'
echo
echo "\$ carbon-launcher run $where $sock"
echo
echo "  Ctrl-C here stops every instance gracefully (a second Ctrl-C kills them)."
echo "  From a second terminal (paste these lines as they are):"
echo "    export PATH=$bin:\$PATH"
echo "    carbon-launcher status $sock"
echo "    carbon-launcher logs apim-1 -f $sock      # Ctrl-C ends the follow"
echo "    carbon-launcher stop apim-2 $sock"
echo "    carbon-launcher start apim-2 --wait $sock"
echo "    kill -INT $$      # the same as Ctrl-C here"
echo "  Instance logs: $demo/state/logs/NAME.log. Afterwards: rm -rf $demo"
echo
# shellcheck disable=SC2086
exec carbon-launcher run $where $sock
