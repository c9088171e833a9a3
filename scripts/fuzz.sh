#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 60),
# seeded with the project's own config fixtures. Exits non-zero on any crash.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
"$repo/scripts/install-deps.sh" clang libclang-rt-14-dev
build_dir=${FUZZ_BUILD_DIR:-$repo/build-fuzz}
CXX=clang++ cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCARBON_FUZZ=ON -DCARBON_BUILD_TESTS=OFF -DCARBON_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" --target fuzz_si_patch fuzz_toml_patch
# Inputs that once crashed a target must stay fixed.
"$build_dir/bin/fuzz_si_patch" "$repo"/fuzz/regressions/si-* 2>&1 | tail -1
"$build_dir/bin/fuzz_toml_patch" "$repo"/fuzz/regressions/toml-* 2>&1 | tail -1
for target in fuzz_si_patch fuzz_toml_patch; do
    corpus=$build_dir/corpus-$target
    rm -rf "$corpus"  # start from the seeds every time: a repeatable run
    runs=$((seconds * 2000))
    mkdir -p "$corpus"
    # Seeds: a two-byte offset header followed by each fixture.
    for fixture in "$repo"/tests/fixtures/*; do
        { printf '\x05\x00'; cat "$fixture"; } > "$corpus/seed-$(basename "$fixture")"
    done
    echo "fuzz: $target for ${seconds}s"
    # A fixed seed and run count make CI repeatable: the same commit explores the same inputs,
    # and max_total_time only caps a slow machine.
    (cd "$build_dir" && "./bin/$target" -seed=20261126 -runs="$runs" -max_total_time="$seconds" \
        -max_len=8192 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 | grep -E "^(#|stat::number_of_executed_units|stat::peak_rss|==|SUMMARY|Done)" | tail -6)
    test "${PIPESTATUS[0]}" -eq 0
done
echo "fuzz: no crash"
