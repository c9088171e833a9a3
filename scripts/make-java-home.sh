#!/usr/bin/env bash
# Lays out an API-M-like home whose JVM is a real one: tests/java/HealthServer.java, compiled here
# (javac from a JDK 17 or later; scripts/install-deps.sh installs openjdk-17-jdk-headless). The
# home is make-sim-home.sh's API-M home, with the same bin/api-manager.sh (java run as a child of
# sh, the 121 loop, exit 0 at the end [F1][F5]) around "$JAVA_HOME/bin/java" instead of carbon-sim:
#   make-java-home.sh HOME
#
#   HOME/bin/api-manager.sh                 -> $JAVA_HOME/bin/java ... HealthServer -Dcarbon.home=... $*
#   HOME/lib/health-fixture/HealthServer.class
#   HOME/repository/conf/deployment.toml, HOME/tmp/, HOME/wso2carbon.pid (written by the JVM)
# Profiles point java_home at a JDK (e.g. /usr/lib/jvm/java-17-openjdk-amd64); the port offset
# comes as -DportOffset=N, as for API-M.
set -euo pipefail
home=${1:?home}
repo=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v javac >/dev/null; then
    echo "make-java-home.sh: javac is missing: install a JDK 17 (scripts/install-deps.sh installs openjdk-17-jdk-headless)" >&2
    exit 69
fi
# A small heap and the serial GC: a test fixture, not a server (the real script's heap is 1 GB).
# shellcheck disable=SC2016  # $JAVA_HOME and $CARBON_HOME are the generated script's, at run time
SIM_JVM_COMMAND='"$JAVA_HOME/bin/java" -Xms16m -Xmx64m -XX:+UseSerialGC -cp "$CARBON_HOME/lib/health-fixture" HealthServer' \
    "$repo/scripts/make-sim-home.sh" api-manager "$home"
mkdir -p "$home/lib/health-fixture"
javac --release 17 -d "$home/lib/health-fixture" "$repo/tests/java/HealthServer.java"
