#!/usr/bin/env bash
# Lays out the demo under DIR: five simulated runtime homes (3 API-M, 1 SI, 1 SI Tooling) and
# one profile per instance.
#   make-demo-homes.sh DIR CARBON_SIM
set -euo pipefail
dir=${1:?usage: make-demo-homes.sh DIR CARBON_SIM}
sim=${2:?usage: make-demo-homes.sh DIR CARBON_SIM}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir/homes" "$dir/profiles" "$dir/state" "$dir/jdk/bin"
# A simulated JDK: the simulated JVMs need nothing of it, `check` reads its release file.
echo 'JAVA_VERSION="17.0.12"' > "$dir/jdk/release"
jdk=$(cd "$dir/jdk" && pwd)  # absolute: a relative "java_home" would be relative to the profile

profile() {  # NAME RUNTIME VERSION EXTRA_JSON
    "$repo/scripts/make-sim-home.sh" "$2" "$dir/homes/$1" "$sim"
    echo "WSO2 simulated $2-$3" > "$dir/homes/$1/bin/version.txt"  # check: the JDK range
    cat > "$dir/profiles/$1.json" <<JSON
{
  // A simulated $2 instance; its offset is chosen by the planner.
  "name": "$1",
  "runtime": "$2",
  "home": "../homes/$1",
  "offset": "auto",
  "java_home": "$jdk",
  // A simulated JVM needs no heap; a real pack wants -Xmx2g (WSO2's guidance).
  "env": {"JAVA_OPTS": "-Xms128m -Xmx256m"},
  "stop_timeout_s": 10$4
}
JSON
}

profile apim-1 api-manager 4.4.0 ""
profile apim-2 api-manager 4.4.0 ', "after": ["apim-1"]'
profile apim-3 api-manager 4.4.0 ', "after": ["apim-1"]'
profile si streaming-integrator 4.3.0 ""
profile tooling si-tooling 4.3.0 ""
echo "demo homes and profiles in $dir"
