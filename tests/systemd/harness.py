#!/usr/bin/env python3
"""A Debian 12 root with systemd 252 as PID 1 in private namespaces: the shipped unit tested under a
real service manager (issue 17). Needs root, unshare/nsenter, a writable cgroup2 mount and, once
per build dir, the network for mmdebstrap (Debian's mirror).

  harness.py prepare [BUILD_DIR]   make the root once: BUILD_DIR/systemd-root (mmdebstrap, cached)
  harness.py shell [BUILD_DIR]     boot a throwaway copy of it and open a shell inside; on exit
                                   the copy is torn down

How a boot is laid out:
- The root made by `prepare` is never changed: it is the lower layer of an overlay, and each boot
  writes to an upper folder of its own. A test class has its own upper folder, so classes never see
  each other's changes, and a "reboot" is a second boot on the same upper folder.
- `unshare` starts boot-pid1.sh as PID 1 of new pid, mount, uts, ipc, net and cgroup namespaces;
  it mounts the root and becomes systemd. Its cgroup is one the harness makes for the boot
  (CGROUP2/carbon-systemd-test-PID-N), so everything systemd starts is under it.
- Commands run inside through `nsenter` into all those namespaces and the root.
- Teardown kills PID 1 by its pid, which ends every process of the pid namespace; the harness then
  checks that no process of that namespace is left and that the boot's cgroup is empty, and
  removes it. Every wait is bounded.
"""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
BOOT_SCRIPT = HERE / "boot-pid1.sh"
SUITE = "bookworm"
# What the unit needs beyond minbase: systemd as PID 1 and D-Bus, as an installed Debian has them.
# The .deb's own run-time libraries are added by packages_for().
BASE_PACKAGES = ["systemd", "systemd-sysv", "dbus"]
# Timers that would wake up during a test to do a machine's housekeeping (apt, fstrim, e2scrub):
# masked in the root, as they only add load and log lines.
MASKED_UNITS = ["apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
                "fstrim.timer", "e2scrub_reap.service"]
HOSTNAME = "carbon-test"
INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BOOT_TIMEOUT_S = 60
SHUTDOWN_TIMEOUT_S = 30


def build_dir():
    return pathlib.Path(os.environ.get("CARBON_BUILD_DIR", REPO / "build")).resolve()


def root_dir(build):
    return build / "systemd-root"


def stamp_path(build):
    return build / "systemd-root.json"


def cgroup2_mount():
    """The host's writable cgroup2 mount of the whole hierarchy (/sys/fs/cgroup, or
    /sys/fs/cgroup/unified on a hybrid system), or None."""
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        separator = fields.index("-")
        if fields[separator + 1] == "cgroup2" and fields[3] == "/" and "rw" in fields[5].split(","):
            return pathlib.Path(fields[4])
    return None


def why_unavailable(build):
    """Why a boot cannot be done here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (namespaces, mounts and cgroups for systemd as PID 1)"
    for tool in ("unshare", "nsenter", "chroot", "mount"):
        if not shutil.which(tool):
            return f"needs {tool} (util-linux, coreutils)"
    if cgroup2_mount() is None:
        return "needs a writable cgroup2 mount for systemd's cgroups"
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount", "--net", "--cgroup", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"cannot make pid/mount/net/cgroup namespaces here: {probe.stderr.strip()}"
    if not (root_dir(build) / "lib/systemd/systemd").exists():
        return (f"no Debian root at {root_dir(build)}: run `tests/systemd/harness.py prepare {build}` first "
                "(mmdebstrap, needs Debian's mirror; scripts/test.sh does it before the tests)")
    return None


# --- the root -------------------------------------------------------------------------------------

def packages_for(build):
    """Debian packages of the libraries the built binaries load (libasan8 in a sanitizer build):
    dpkg -i of the project's .deb inside the root needs them, and the root has no network."""
    libraries = set()
    for binary in ("carbon-launcher", "carbon-sim"):
        ldd = subprocess.run(["ldd", str(build / "bin" / binary)], capture_output=True, text=True, timeout=60,
                             check=True)
        for line in ldd.stdout.splitlines():
            if "=>" in line and "not found" not in line:
                library = line.split("=>")[1].split("(")[0].strip()
                if library:
                    libraries.add(library)
    # dpkg knows a library by the path its package ships, which the /lib -> /usr/lib merge may hide:
    # ask for every spelling at once (one dpkg-query: each call reads the whole file database).
    spellings = {}
    for library in libraries:
        for candidate in (library, os.path.realpath(library), library.replace("/lib/", "/usr/lib/", 1)):
            spellings[candidate] = library
    found = subprocess.run(["dpkg-query", "-S", *spellings], capture_output=True, text=True, timeout=120)
    owners = {}
    for line in found.stdout.splitlines():
        package, _, path = line.partition(": ")
        if path in spellings and not package.startswith("diversion by"):
            owners[spellings[path]] = package.split(",")[0].split(":")[0].strip()
    missing = sorted(libraries - owners.keys())
    if missing:
        raise RuntimeError(f"no Debian package holds {', '.join(missing)} (dpkg-query -S)")
    return sorted(set(owners.values()))


def debian_mirror():
    """The Debian mirror this machine's apt uses (CARBON_DEBIAN_MIRROR overrides it)."""
    if os.environ.get("CARBON_DEBIAN_MIRROR"):
        return os.environ["CARBON_DEBIAN_MIRROR"]
    sources = pathlib.Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


def ensure_mmdebstrap():
    if shutil.which("mmdebstrap"):
        return
    print("harness: installing mmdebstrap (apt-get)", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "mmdebstrap"], check=True,
                   timeout=600, env=env)


def prepare(build):
    """Makes BUILD/systemd-root unless the one there has the same packages. mmdebstrap rather than
    debootstrap: one apt run and dpkg without fsync per file (the root is a cache, rebuilt when
    lost), which takes less than half of debootstrap's CPU time here."""
    if os.geteuid() != 0:
        print("harness: prepare skipped: needs root (mmdebstrap, namespaces)")
        return 0
    packages = sorted(set(BASE_PACKAGES) | set(packages_for(build)))
    wanted = {"suite": SUITE, "variant": "minbase", "packages": packages, "masked": MASKED_UNITS,
              "hostname": HOSTNAME}
    root, stamp = root_dir(build), stamp_path(build)
    if stamp.exists() and (root / "lib/systemd/systemd").exists():
        made = json.loads(stamp.read_text())
        if {key: made.get(key) for key in wanted} == wanted:
            print(f"harness: reusing {root} (made in {made.get('seconds')} s)")
            return 0
    ensure_mmdebstrap()
    partial = build / "systemd-root.partial"
    shutil.rmtree(partial, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    started = time.monotonic()
    mirror = debian_mirror()
    print(f"harness: mmdebstrap {SUITE} from {mirror} with {','.join(packages)}", flush=True)
    log = build / "systemd-root.log"
    with open(log, "w") as out:
        # In a mount namespace of its own: the /proc, /sys and /dev it mounts into the new root
        # while installing cannot be left on the host, whatever happens to it.
        made = subprocess.run(["unshare", "--mount", "--propagation", "private", "mmdebstrap", "--variant=minbase",
                               "--dpkgopt=force-unsafe-io", f"--include={','.join(packages)}", SUITE,
                               str(partial), mirror], stdout=out, stderr=subprocess.STDOUT, timeout=1200)
    if made.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        print(f"harness: mmdebstrap failed ({made.returncode}); the last lines of {log}:\n{tail}", file=sys.stderr)
        shutil.rmtree(partial, ignore_errors=True)
        return 1
    configure_root(partial)
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    wanted["seconds"] = round(time.monotonic() - started, 1)
    stamp.write_text(json.dumps(wanted, indent=2))
    print(f"harness: {root} made in {wanted['seconds']} s")
    return 0


def configure_root(root):
    """What an installed Debian has and a bootstrapped root lacks: a hostname that resolves (as
    the installer writes it) and localhost in /etc/hosts; housekeeping timers masked."""
    (root / "etc/hostname").write_text(f"{HOSTNAME}\n")
    (root / "etc/hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n"
                                    "::1\tlocalhost ip6-localhost ip6-loopback\n")
    for unit in MASKED_UNITS:
        link = root / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")


# --- a boot ---------------------------------------------------------------------------------------

def wait_for(predicate, timeout, what, step=0.1):
    """Polls `predicate` until it returns a true value; AssertionError naming `what` after
    `timeout` seconds (bounded)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / step) + 2):
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout} s")


class System:
    """One Debian root booted with systemd as PID 1. `upper` keeps what this system changed, so a
    second boot() on the same object is a reboot on the same disk."""

    _boots = 0

    def __init__(self, build, upper_parent=None):
        self.lower = root_dir(build)
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="carbon-systemd-", dir=upper_parent))
        self.upper = self.folder / "upper"
        self.merged = self.folder / "merged"
        self.upper.mkdir()
        self.merged.mkdir()
        self.unshare = None  # the unshare process (on the host); its child is PID 1
        self.pid1 = None  # host pid of PID 1
        self.pid_ns = None
        self.cgroup = None
        self.console = None

    # Booting and ending.

    def boot(self):
        System._boots += 1
        self.cgroup = cgroup2_mount() / f"carbon-systemd-test-{os.getpid()}-{System._boots}"
        self.cgroup.mkdir()
        work = self.folder / "work"
        shutil.rmtree(work, ignore_errors=True)  # overlayfs wants an empty work folder per mount
        work.mkdir()
        self.console = open(self.folder / f"console-{System._boots}.log", "w")
        # --kill-child: should unshare itself be killed (a test runner's timeout), PID 1 gets
        # SIGKILL too, and with it the whole namespace.
        namespaces = ["--pid", "--fork", "--kill-child", "--mount", "--uts", "--ipc", "--net",
                      "--propagation", "private"]
        layers = [str(self.merged), str(self.lower), str(self.upper), str(work)]
        self.unshare = subprocess.Popen(["unshare", *namespaces, "sh", str(BOOT_SCRIPT), "cgroup", str(self.cgroup),
                                         *layers], stdin=subprocess.DEVNULL, stdout=self.console,
                                        stderr=subprocess.STDOUT)
        try:
            self.pid1 = wait_for(self._child_of_unshare, 10, "PID 1 of the new namespace")
            self.pid_ns = os.readlink(f"/proc/{self.pid1}/ns/pid")
            wait_for(self._systemd_is_up, BOOT_TIMEOUT_S, f"systemd booted (console: {self.console.name})")
        except BaseException:
            self.kill()
            raise
        return self

    def _child_of_unshare(self):
        if self.unshare.poll() is not None:
            raise AssertionError(f"unshare exited {self.unshare.returncode}: {self.console_text()}")
        try:
            children = pathlib.Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children").read_text().split()
        except FileNotFoundError:
            return None
        return int(children[0]) if children else None

    def _systemd_is_up(self):
        if self.unshare.poll() is not None:
            raise AssertionError(f"PID 1 ended while booting: {self.console_text()}")
        if pathlib.Path(f"/proc/{self.pid1}/comm").read_text().strip() != "systemd":
            return False  # still boot-pid1.sh: nsenter --root would not reach the new root yet
        state = self.run("systemctl", "is-system-running", "--wait", check=False, timeout=BOOT_TIMEOUT_S)
        return state.stdout.strip() in ("running", "degraded")

    def poweroff(self):
        """A clean shutdown: systemd stops every unit, then ends the namespace (reboot(2) in a
        child pid namespace ends that namespace only). Killed after SHUTDOWN_TIMEOUT_S."""
        self.run("systemctl", "poweroff", "--no-block")
        try:
            self.unshare.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            console = self.console_text()
            self.kill()
            raise AssertionError(f"systemd did not power off within {SHUTDOWN_TIMEOUT_S} s: {console}")
        self.kill()  # nothing is left to kill; checks that and removes the cgroup

    def kill(self):
        """Ends PID 1 by its pid (the kernel then ends every process of its pid namespace), checks
        that nothing of the boot is left, and removes the boot's cgroup."""
        if self.pid1 is not None and self.unshare.poll() is None:
            try:
                os.kill(self.pid1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.unshare is not None:
            try:
                self.unshare.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.unshare.kill()  # only if PID 1 could not be found: unshare's own child dies with it
                self.unshare.wait(timeout=SHUTDOWN_TIMEOUT_S)
        if self.console:
            self.console.close()
        if self.pid_ns:
            try:
                wait_for(lambda: not self.processes() and not self._cgroup_members(), 10,
                         "every process of the namespace gone")
            except AssertionError as error:
                raise AssertionError(f"{error}; left: {self.processes()}, cgroup: {self._cgroup_members()}")
        self._remove_cgroup()
        self.pid1 = None

    def close(self):
        """kill(), then remove the upper folder: the end of this system."""
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _cgroup_members(self):
        members = []
        if self.cgroup and self.cgroup.exists():
            for procs in self.cgroup.rglob("cgroup.procs"):
                try:
                    members += procs.read_text().split()
                except FileNotFoundError:
                    pass
        return members

    def _remove_cgroup(self):
        if not self.cgroup or not self.cgroup.exists():
            return
        directories = sorted((p for p in self.cgroup.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                             reverse=True) + [self.cgroup]
        for directory in directories:
            wait_for(lambda: self._rmdir(directory), 10, f"rmdir {directory}")

    @staticmethod
    def _rmdir(directory):
        try:
            directory.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            return False  # a killed task may still be leaving
        return True

    def console_text(self):
        if not self.console.closed:
            self.console.flush()
        return pathlib.Path(self.console.name).read_text(errors="replace")[-3000:]

    # Looking inside.

    def run(self, *command, check=True, timeout=120, input=None, user=None):
        """`command` inside the booted root (all its namespaces), with a clean environment."""
        prefix = ["nsenter", "-t", str(self.pid1), "-m", "-u", "-i", "-n", "-p", "--root", "--wd"]
        if user:
            prefix += ["-S", str(user[0]), "-G", str(user[1])]
        env = ["env", "-i", f"PATH={INSIDE_PATH}", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0",
               "TERM=dumb"]
        result = subprocess.run([*prefix, *env, *command], capture_output=True, text=True, timeout=timeout,
                                input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def path(self, inside):
        """The host's path of `inside` (an absolute path in the booted root), through PID 1's root.
        For plain files and folders: an absolute symlink on the way would resolve on the host."""
        return pathlib.Path(f"/proc/{self.pid1}/root") / str(inside).lstrip("/")

    def processes(self):
        """{pid inside: (host pid, argv)} for every live process of the namespace."""
        found = {}
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "ns/pid") != self.pid_ns:
                    continue
                status = (entry / "status").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            if fields.get("State", "").startswith("Z"):
                continue
            inside = int(fields["NSpid"].split()[-1])
            found[inside] = (int(entry.name), [a.decode(errors="replace") for a in argv if a])
        return found

    def listening_ports(self):
        """{port: inode} of the TCP sockets listening in the namespace's network."""
        ports = {}
        for table in ("tcp", "tcp6"):
            for line in pathlib.Path(f"/proc/{self.pid1}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":
                    ports[int(fields[1].rsplit(":", 1)[1], 16)] = fields[9]
        return ports

    def port_owners(self):
        """{port: pid inside} for every listening TCP socket of the namespace."""
        inode_port = {inode: port for port, inode in self.listening_ports().items()}
        owners = {}
        for inside, (host_pid, _) in self.processes().items():
            try:
                for fd in pathlib.Path(f"/proc/{host_pid}/fd").iterdir():
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inode_port:
                        owners[inode_port[target[8:-1]]] = inside
            except (FileNotFoundError, ProcessLookupError):
                continue
        return owners

    def unit_property(self, unit, name):
        return self.run("systemctl", "show", "-P", name, unit).stdout.strip()

    def cgroup_members(self, inside_cgroup):
        """Inside pids in the cgroup `inside_cgroup` ("/system.slice/x.service") and below."""
        directory = self.cgroup / inside_cgroup.lstrip("/")
        members = []
        if directory.exists():
            for procs in directory.rglob("cgroup.procs"):
                try:
                    members += [int(p) for p in procs.read_text().split()]
                except FileNotFoundError:
                    pass
        return members


def main(argv):
    if len(argv) < 2 or argv[1] not in ("prepare", "shell"):
        print(__doc__)
        return 64
    build = pathlib.Path(argv[2]).resolve() if len(argv) > 2 else build_dir()
    if argv[1] == "prepare":
        return prepare(build)
    reason = why_unavailable(build)
    if reason:
        print(f"harness: {reason}", file=sys.stderr)
        return 69
    system = System(build).boot()
    try:
        print(f"harness: systemd is PID 1 of {system.pid_ns} (host pid {system.pid1}); exit the shell to end it")
        subprocess.run(["nsenter", "-t", str(system.pid1), "-m", "-u", "-i", "-n", "-p", "--root", "--wd",
                        "env", "-i", f"PATH={INSIDE_PATH}", "TERM=" + os.environ.get("TERM", "dumb"), "/bin/bash"])
    finally:
        system.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
