#!/usr/bin/env bash
# Lays out the demo under DIR: five simulated runtime homes (3 API-M, 1 SI, 1 SI Tooling) and
# one profile per instance.
#   make-demo-homes.sh DIR CARBON_SIM
set -euo pipefail
dir=${1:?usage: make-demo-homes.sh DIR CARBON_SIM}
sim=${2:?usage: make-demo-homes.sh DIR CARBON_SIM}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir/homes" "$dir/profiles" "$dir/state"

profile() {  # NAME RUNTIME EXTRA_JSON
    "$repo/scripts/make-sim-home.sh" "$2" "$dir/homes/$1" "$sim"
    cat > "$dir/profiles/$1.json" <<JSON
{
  // A simulated $2 instance; its offset is chosen by the planner.
  "name": "$1",
  "runtime": "$2",
  "home": "../homes/$1",
  "offset": "auto",
  "java_home": "/usr",
  "stop_timeout_s": 10$3
}
JSON
}

profile apim-1 api-manager ""
profile apim-2 api-manager ', "after": ["apim-1"]'
profile apim-3 api-manager ', "after": ["apim-1"]'
profile si streaming-integrator ""
profile tooling si-tooling ""
echo "demo homes and profiles in $dir"
