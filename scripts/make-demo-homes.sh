#!/usr/bin/env bash
# Lays out the demo: five simulated runtime homes (3 API-M, 1 SI, 1 SI Tooling) and one profile
# per instance, under DIR. The homes carry the project's own small config files.
set -euo pipefail
dir=${1:?usage: make-demo-homes.sh DIR}
repo=$(cd "$(dirname "$0")/.." && pwd)
fixtures=$repo/tests/fixtures
mkdir -p "$dir/homes" "$dir/profiles" "$dir/state"

make_home() {  # NAME SCRIPT CONFIG_SOURCE CONFIG_PATH
    local home=$dir/homes/$1
    mkdir -p "$home/bin" "$(dirname "$home/$4")"
    cp "$3" "$home/$4"
    cat > "$home/bin/$2" <<'SCRIPT'
#!/bin/sh
# Placeholder start script of a demo home: the simulated runtime is not wired in yet.
echo "simulated runtime: not available in this version" >&2
exit 1
SCRIPT
    chmod +x "$home/bin/$2"
}

for i in 1 2 3; do
    make_home "apim-$i" api-manager.sh "$fixtures/apim-deployment.toml" repository/conf/deployment.toml
    cat > "$dir/profiles/apim-$i.json" <<JSON
{
  // An API Manager all-in-one node; its offset is chosen by the planner.
  "name": "apim-$i",
  "runtime": "api-manager",
  "home": "../homes/apim-$i",
  "offset": "auto"
}
JSON
done
make_home si server.sh "$fixtures/si-deployment.yaml" conf/server/deployment.yaml
cat > "$dir/profiles/si.json" <<'JSON'
{ "name": "si", "runtime": "streaming-integrator", "home": "../homes/si" }
JSON
make_home tooling tooling.sh "$fixtures/si-tooling-deployment.yaml" conf/server/deployment.yaml
cat > "$dir/profiles/tooling.json" <<'JSON'
{ "name": "tooling", "runtime": "si-tooling", "home": "../homes/tooling" }
JSON
echo "demo homes and profiles in $dir"
