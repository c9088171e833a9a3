#!/usr/bin/env bash
# Installs the Debian packages carbon-launcher builds and tests with, only when one is missing.
set -euo pipefail
packages=(
    cmake g++ ninja-build python3 python3-yaml iproute2
    libboost1.81-dev libboost-program-options1.81-dev
    libspdlog-dev libfmt-dev nlohmann-json3-dev doctest-dev
    libyaml-cpp-dev libtomlplusplus-dev
    help2man dpkg-dev file systemd
    openssl libssl-dev openjdk-17-jdk-headless
    mmdebstrap  # tests/systemd: the Debian root systemd boots in
    ansible-core  # tests/ansible: the exported role on two such roots (ansible.builtin only)
    "$@"
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
