#!/usr/bin/env bash
# Lays out one simulated runtime home around carbon-sim, shaped like the real pack in everything a
# supervisor can observe (tools/SIMULATION.md lists each fact [F1]..[F17] with the WSO2 source it
# mirrors). The start scripts are written for this project; no WSO2 script text is copied.
#   make-sim-home.sh RUNTIME HOME CARBON_SIM
#   SIM_JVM_COMMAND='CMD' make-sim-home.sh RUNTIME HOME
#       the scripts run CMD as their JVM instead of carbon-sim (make-java-home.sh: a real java)
#
#   api-manager           HOME/bin/api-manager.sh -> JVM (child of sh, 121 loop)       [F1]
#                         HOME/diagnostics-tool/bin/diagnostics.sh (4.3+ helper)       [F12]
#                         HOME/repository/conf/deployment.toml, HOME/tmp/
#                         HOME/repository/resources/security/carbon-sim.{crt,key}     [F16]
#   streaming-integrator  HOME/bin/server.sh  -> HOME/wso2/server/bin/carbon.sh -> JVM [F2]
#   si-tooling            HOME/bin/tooling.sh -> HOME/wso2/server/bin/carbon.sh -> JVM [F2]
#                         HOME/conf/server/deployment.yaml (conf/<runtime name>/)      [F7]
set -euo pipefail
runtime=${1:?runtime} home=${2:?home}
if [ -z "${SIM_JVM_COMMAND:-}" ]; then
    sim=${3:?path of carbon-sim}
    SIM_JVM_COMMAND="\"$sim\" jvm --runtime $runtime --home \"\$CARBON_HOME\""
fi
fixtures=$(cd "$(dirname "$0")/../tests/fixtures" && pwd)
case $runtime in
    api-manager) script=api-manager.sh config=repository/conf/deployment.toml fixture=apim-deployment.toml ;;
    streaming-integrator) script=server.sh config=conf/server/deployment.yaml fixture=si-deployment.yaml ;;
    si-tooling) script=tooling.sh config=conf/server/deployment.yaml fixture=si-tooling-deployment.yaml ;;
    *) echo "make-sim-home.sh: unknown runtime $runtime" >&2; exit 64 ;;
esac
mkdir -p "$home/bin" "$home/tmp" "$(dirname "$home/$config")"
cp "$fixtures/$fixture" "$home/$config"

# The JVM command line of a script's loop (one line; the e2e tests may put `exec ` before it).
jvm_line() {  # EXTRA_ARGS
    printf '    %s %s$*\n' "$SIM_JVM_COMMAND" "$1"
}

# The pack's self-signed TLS identity [F16]. A real pack ships one in
# repository/resources/security/wso2carbon.jks; carbon-sim reads PEM files from the same folder.
# An EC P-256 key: made in milliseconds (an RSA one takes far longer, for every home of every test),
# and a loopback probe that does not verify the certificate cannot tell.
make_certificate() {
    local folder=$home/repository/resources/security output
    if ! command -v openssl >/dev/null; then
        echo "make-sim-home.sh: the openssl command is missing (scripts/install-deps.sh installs it)" >&2
        exit 69
    fi
    mkdir -p "$folder"
    if ! output=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -days 3650 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$folder/carbon-sim.key" -out "$folder/carbon-sim.crt" 2>&1); then
        echo "make-sim-home.sh: openssl could not make the certificate: $output" >&2
        exit 1
    fi
}

if [ "$runtime" = api-manager ]; then
    make_certificate
    mkdir -p "$home/diagnostics-tool/bin"
    cat > "$home/diagnostics-tool/bin/diagnostics.sh" <<'SCRIPT'
#!/bin/sh
# Simulated API-M 4.3+ diagnostics tool [F12]: a second long-lived process that api-manager.sh
# starts in the background. It stays only when HOME/sim.json has "diagnostics": true (cheap
# default: it ends at once).
if grep -q '"diagnostics": *true' "$(dirname "$0")/../../sim.json" 2>/dev/null; then
    exec sleep 86400
fi
SCRIPT
    chmod +x "$home/diagnostics-tool/bin/diagnostics.sh"
    {
        cat <<'SCRIPT'
#!/bin/sh
# Simulated bin/api-manager.sh (carbon-launcher's simulated runtime, tools/SIMULATION.md).
# Like WSO2's: CARBON_HOME honoured, else the folder above bin/ [F3]; JAVA_HOME required [F3];
# cd CARBON_HOME; HOME/tmp/* wiped only when tmp is a folder [F8]; the diagnostics tool started
# in the background and killed by an EXIT/INT trap [F12]; the JVM run as a child (no exec) again
# while it exits 121, with $* re-split unquoted [F1][F4]; nothing after the loop, so the script
# exits 0 whatever the JVM did [F5].
[ -z "$CARBON_HOME" ] && CARBON_HOME=$(cd "$(dirname "$0")/.."; pwd)
if [ -z "$JAVA_HOME" ]; then
    echo "You must set the JAVA_HOME variable before running the server."
    exit 1
fi
cd "$CARBON_HOME"
if [ -d "$CARBON_HOME/tmp" ]; then
    rm -rf "$CARBON_HOME"/tmp/*
fi
"$CARBON_HOME"/diagnostics-tool/bin/diagnostics.sh &
diagnostics_pid=$!
trap 'kill "$diagnostics_pid" 2>/dev/null' EXIT INT
status=121
while [ "$status" = 121 ]; do
SCRIPT
        jvm_line '-Dcarbon.home="$CARBON_HOME" '
        cat <<'SCRIPT'
    status=$?
done
SCRIPT
    } > "$home/bin/$script"
else
    mkdir -p "$home/wso2/server/bin"
    cat > "$home/bin/$script" <<'SCRIPT'
#!/bin/sh
# Simulated bin/server.sh / bin/tooling.sh (carbon-launcher's simulated runtime,
# tools/SIMULATION.md). Like WSO2's: CARBON_HOME honoured, else the folder above bin/; RUNTIME_HOME
# defaulted to HOME/wso2/server but not exported (carbon.sh works it out again) [F2]; then
# CARBON_HOME/wso2/server/bin/carbon.sh run as a child with $* re-split [F2][F4], and a bare
# `exit`, which passes on carbon.sh's status: 0 whatever the JVM did [F5].
PRGDIR=$(dirname "$0")
[ -z "$CARBON_HOME" ] && CARBON_HOME=$(cd "$PRGDIR/.."; pwd)
[ -z "$RUNTIME_HOME" ] && RUNTIME_HOME=$(cd "$PRGDIR/../wso2/server"; pwd)
"$CARBON_HOME/wso2/server/bin/carbon.sh" $*
exit
SCRIPT
    {
        cat <<'SCRIPT'
#!/bin/sh
# Simulated wso2/server/bin/carbon.sh (tools/SIMULATION.md). Like WSO2's: RUNTIME_HOME honoured,
# else the folder above this bin/; CARBON_HOME honoured, else three folders up; the runtime name
# RUNTIME honoured, else RUNTIME_HOME's last path element [F2]; JAVA_HOME required [F3];
# cd RUNTIME_HOME; no tmp wipe [F8]; the JVM run as a child with -Dwso2.runtime.path and
# -Dwso2.runtime [F2][F7], again while it exits 121; nothing after the loop: exit 0 [F5].
here=$(dirname "$0")
[ -z "$RUNTIME_HOME" ] && RUNTIME_HOME=$(cd "$here/.."; pwd)
[ -z "$CARBON_HOME" ] && CARBON_HOME=$(cd "$here/../../.."; pwd)
[ -z "$RUNTIME" ] && RUNTIME=${RUNTIME_HOME##*/}
if [ -z "$JAVA_HOME" ]; then
    echo "You must set the JAVA_HOME variable before running CARBON."
    exit 1
fi
cd "$RUNTIME_HOME"
status=121
while [ "$status" = 121 ]; do
SCRIPT
        jvm_line '-Dcarbon.home="$CARBON_HOME" -Dwso2.runtime.path="$RUNTIME_HOME" -Dwso2.runtime="$RUNTIME" '
        cat <<'SCRIPT'
    status=$?
done
SCRIPT
    } > "$home/wso2/server/bin/carbon.sh"
    chmod +x "$home/wso2/server/bin/carbon.sh"
fi
chmod +x "$home/bin/$script"
