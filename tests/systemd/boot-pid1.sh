#!/bin/sh
# PID 1 of the harness's new pid namespace (tests/systemd/harness.py starts it under `unshare`).
# It sets up what a container manager gives systemd, then becomes systemd. Every mount below is in
# the namespace's private mount table, so nothing of it is left on the host once PID 1 is gone.
#   boot-pid1.sh cgroup CGROUP_DIR ROOT LOWER UPPER WORK    (as started by the harness)
#   boot-pid1.sh mount ROOT LOWER UPPER WORK                (after the cgroup namespace exists)
set -eu

if [ "$1" = cgroup ]; then
    # Move into the cgroup the harness made for this boot before the cgroup namespace is made, so
    # systemd sees that cgroup as the root of its hierarchy and everything it starts stays under
    # it (and the harness can check the cgroup is empty at the end).
    echo 0 > "$2/cgroup.procs"
    shift 2
    exec unshare --cgroup sh "$0" mount "$@"
fi

[ "$1" = mount ] || { echo "boot-pid1.sh: unknown stage $1" >&2; exit 64; }
root=$2 lower=$3 upper=$4 work=$5
# The pristine root stays read-only below an overlay; this boot's changes go to UPPER.
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
# Read-only /proc/sys and /sys, as systemd-nspawn does: systemd-sysctl and friends must not change
# the host's kernel settings (systemd skips them when /proc/sys is read-only).
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
# The cgroup2 mount made inside the cgroup namespace shows only this boot's cgroup, writable, so
# that systemd can delegate part of it (the unit's Delegate=yes).
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
# A /dev of its own with the harmless nodes only: no devtmpfs, so no host disk or console.
mount -t tmpfs -o mode=755,nosuid,size=4m tmpfs "$root/dev"
for node in null zero full random urandom tty; do
    : > "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
# container=: systemd then skips what only a machine's own init does (hardware, consoles).
exec /usr/bin/env -i container=carbon-launcher-tests /usr/sbin/chroot "$root" /lib/systemd/systemd --system
