#!/usr/bin/env bash
# Lays out one simulated runtime home: a start script shaped like WSO2's (the "JVM" runs as a
# child of sh, started again while it exits with 121; $* re-split unquoted) that runs carbon-sim,
# and a config file of the project's own in the real file's place.
#   make-sim-home.sh RUNTIME HOME CARBON_SIM
set -euo pipefail
runtime=${1:?runtime} home=${2:?home} sim=${3:?path of carbon-sim}
fixtures=$(cd "$(dirname "$0")/../tests/fixtures" && pwd)
case $runtime in
    api-manager) script=api-manager.sh config=repository/conf/deployment.toml fixture=apim-deployment.toml ;;
    streaming-integrator) script=server.sh config=conf/server/deployment.yaml fixture=si-deployment.yaml ;;
    si-tooling) script=tooling.sh config=conf/server/deployment.yaml fixture=si-tooling-deployment.yaml ;;
    *) echo "make-sim-home.sh: unknown runtime $runtime" >&2; exit 64 ;;
esac
mkdir -p "$home/bin" "$(dirname "$home/$config")"
cp "$fixtures/$fixture" "$home/$config"
cat > "$home/bin/$script" <<SCRIPT
#!/bin/sh
# Simulated WSO2 start script (carbon-launcher demo). Like the real one it needs JAVA_HOME,
# honours CARBON_HOME, runs the JVM as a child (no exec) and restarts it on exit code 121.
if [ -z "\$JAVA_HOME" ]; then
    echo "You must set the JAVA_HOME variable before running the server." >&2
    exit 1
fi
CARBON_HOME=\${CARBON_HOME:-\$(cd "\$(dirname "\$0")/.." && pwd)}
status=121
while [ "\$status" = 121 ]; do
    "$sim" jvm --runtime $runtime --home "\$CARBON_HOME" \$*
    status=\$?
done
exit \$status
SCRIPT
chmod +x "$home/bin/$script"
