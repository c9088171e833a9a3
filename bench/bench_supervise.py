#!/usr/bin/env python3
"""Runs the same workloads under carbon-launcher and, when installed, supervisord, and prints
figures and ratios. A benchmark, not a test: it never fails on speed.

  bench_supervise.py BUILD_DIR [--instances 50] [--baseline 1] [--idle-s 10] [--crashes 40]
                    [--beside-jvm JAVA] [--only carbon-launcher|supervisord]

Workloads: crash-to-respawn latency of one crashing process, beside this machine's floor for the
same loop (a bare spawn-and-wait loop: on a VM where fork, exec and exit take milliseconds, the
gap above the floor is the supervisor's own work); the supervisor's own memory (RSS,
PSS, USS) with BASELINE and with N idle instances, and what each extra instance costs; wakeups
(context switches) of the supervisor while they idle; time to stop N instances that each take
500 ms to stop on SIGTERM. Everything runs on this machine; every process started here is stopped
by its pid. The targets are printed beside the figures; a missed target is reported, not failed."""
import argparse
import contextlib
import json
import os
import pathlib
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from bench_profiles import lightweight

REPO = pathlib.Path(__file__).resolve().parents[1]

SLOW_STOP_SCRIPT = """#!/bin/sh
# Idles until SIGTERM, then takes 500 ms to stop, like a JVM running its shutdown hooks.
trap 'sleep 0.5; exit 0' TERM
echo "WSO2 Carbon started in 0 sec"
while :; do sleep 3600 & wait $!; done
"""


# Targets of carbon-launcher, printed beside its figures (a benchmark reports, it never fails).
TARGET_RESPAWN_P50_MS = 2.5
TARGET_USS_KIB = 2 * 1024
TARGET_GROWTH_KIB = 20


class Memory:
    """A process's own memory in KiB, from /proc/PID/smaps_rollup. RSS counts every page the
    process has resident, shared-library pages included; PSS shares each page out among the
    processes that map it; USS (Private_Clean + Private_Dirty) is what only this process holds,
    i.e. what ending it would give back; anonymous is its heap and stacks.
    USS moves with the neighbours: a file page (the binary's text, a library's) is private while
    no other process maps it, shared as soon as one does (a CLI run of the same binary, another
    program using the same library). Private_Dirty (heap, stacks, relocated data) does not, so
    it is printed too, and the growth per instance is given for both."""

    def __init__(self, pid):
        fields = {}
        for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0])
        self.rss = fields["Rss"]
        self.pss = fields["Pss"]
        self.uss = fields["Private_Clean"] + fields["Private_Dirty"]
        self.anon = fields["Anonymous"]
        self.dirty = fields["Private_Dirty"]

        self.private_by_owner = private_by_owner(pid)

    def describe(self):
        return f"RSS {self.rss / 1024:5.1f} MiB, PSS {self.pss / 1024:5.1f}, USS {self.uss / 1024:5.2f}, " \
               f"(private dirty {self.dirty / 1024:5.2f}), anon {self.anon / 1024:5.1f}"

    def describe_private(self):
        return ", ".join(f"{owner} {kib:.0f}" for owner, kib in
                         sorted(self.private_by_owner.items(), key=lambda item: -item[1]) if kib)


# Who the private pages belong to. Which of them are private depends on the neighbours: Debian's
# OpenJDK (libjvm.so) maps libstdc++, sshd maps OpenSSL; on this machine nothing else may run,
# and every page the daemon touches is then its own. (libsystemd: builds before the launcher
# spoke the notify protocol itself linked it.)
OWNERS = (("libstdc++, libgcc and libm", ("libstdc++", "libgcc_s", "libm.")),
          ("OpenSSL", ("libssl", "libcrypto")),
          ("libsystemd and its libraries", ("libsystemd", "libgcrypt", "libgpg-error", "liblz4",
                                            "libzstd", "liblzma", "libcap")),
          ("libc and the loader", ("libc.", "ld-linux")))


def owner_of(mapping, executable):
    if not mapping.startswith("/"):
        return "heap, stacks, anonymous"
    if mapping == executable:
        return "the binary"
    name = pathlib.Path(mapping).name
    return next((owner for owner, prefixes in OWNERS if name.startswith(prefixes)), "other libraries")


def private_by_owner(pid):
    """KiB of Private_Clean + Private_Dirty per owner, from /proc/PID/smaps."""
    executable = os.readlink(f"/proc/{pid}/exe")
    totals, owner = {}, None
    for line in pathlib.Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if not fields[0].endswith(":"):  # a mapping's header: address perms offset dev inode [path]
            owner = owner_of(fields[5] if len(fields) > 5 else "", executable)
        elif fields[0] in ("Private_Clean:", "Private_Dirty:"):
            totals[owner] = totals.get(owner, 0) + int(fields[1])
    return totals


def verdict(value, target):
    return "met" if value <= target else "MISSED"


def context_switches(pid):
    total = 0
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
            total += int(line.split()[1])
    return total


def descendants(pid):
    children = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(c) for c in text]
    result = list(children)
    for child in children:
        try:
            result += descendants(child)
        except FileNotFoundError:
            pass
    return result


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class Launcher:
    """carbon-launcher over homes whose start script is `script_text`."""

    name = "carbon-launcher"

    def __init__(self, build, root, count, script_text, restart=None, args=None):
        self.root = root / "cl"
        self.build = build
        self.profiles = self.root / "profiles"
        self.profiles.mkdir(parents=True)
        for i in range(count):
            home = self.root / "homes" / f"w{i}"
            (home / "bin").mkdir(parents=True)
            script = home / "bin" / "api-manager.sh"
            script.write_text(script_text)
            script.chmod(0o755)
            profile = {"name": f"w{i}", "runtime": "api-manager", "home": str(home), "offset": "auto",
                       "stop_timeout_s": 10, "args": args or [],
                       "restart": restart or {"delay_ms": 1000, "max_retries": 5}}
            (self.profiles / f"w{i}.json").write_text(json.dumps(lightweight(self.root, profile)))
        self.log = open(self.root / "launcher.log", "w")
        # A socket of its own: as root the default is the system's /run/carbon-launcher.
        self.proc = subprocess.Popen([str(build / "bin" / "carbon-launcher"), "run", "--profiles",
                                      str(self.profiles), "--state-dir", str(self.root / "state"),
                                      "--socket", str(self.root / "control.sock")],
                                     stdout=self.log, stderr=self.log)

    def running(self, count):
        return (self.root / "launcher.log").read_text().count("-> Running") >= count

    def ask_status(self):
        subprocess.run([str(self.build / "bin" / "carbon-launcher"), "status", "--socket",
                        str(self.root / "control.sock")], capture_output=True, timeout=60, check=True)

    def stop_all(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Supervisord:
    name = "supervisord"

    def __init__(self, build, root, count, script_text, restart=None, args=None):
        self.root = root / "sd"
        self.root.mkdir(parents=True)
        sections = [f"[unix_http_server]\nfile={self.root}/sd.sock\n",
                    f"[supervisord]\nnodaemon=true\nlogfile={self.root}/sd.log\npidfile={self.root}/sd.pid\n"
                    f"childlogdir={self.root}\n",
                    "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
                    f"[supervisorctl]\nserverurl=unix://{self.root}/sd.sock\n"]
        for i in range(count):
            script = self.root / f"w{i}.sh"
            script.write_text(script_text)
            script.chmod(0o755)
            sections.append(f"[program:w{i}]\ncommand={script} {' '.join(args or [])}\nautorestart=true\n"
                            f"startsecs=0\nstartretries=1000000\nstopasgroup=true\nkillasgroup=true\n"
                            f"stopwaitsecs=10\nenvironment=CRASHER_FILE=\"{os.environ.get('CRASHER_FILE', '')}\"\n")
        (self.root / "sd.conf").write_text("\n".join(sections))
        self.proc = subprocess.Popen(["supervisord", "-c", str(self.root / "sd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def running(self, count):
        out = subprocess.run(["supervisorctl", "-c", str(self.root / "sd.conf"), "status"],
                             capture_output=True, text=True).stdout
        return out.count("RUNNING") >= count

    def ask_status(self):  # its exit status is 3 whenever a program is not RUNNING: not checked
        subprocess.run(["supervisorctl", "-c", str(self.root / "sd.conf"), "status"], capture_output=True,
                       timeout=60)

    def stop_all(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=300)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def crash_latency(kind, build, crashes):
    root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-bench-"))
    record = root / "crasher.times"
    os.environ["CRASHER_FILE"] = str(record)
    crasher = build / "bin" / "bench_crasher"
    script = f"#!/bin/sh\nexec {crasher} 20\n"
    sup = kind(build, root, 1, script, restart={"delay_ms": 0, "max_delay_ms": 0, "max_retries": 1000000})
    try:
        wait_until(lambda: record.exists() and record.read_text().count("start") > crashes, 120,
                   f"{crashes} restarts under {kind.name}")
    finally:
        sup.stop_all()
        sup.close()
    gaps = respawn_gaps(record)
    shutil.rmtree(root, ignore_errors=True)
    return statistics.median(gaps), max(gaps), len(gaps)


def respawn_gaps(record):
    """Milliseconds from each "exit" the crasher wrote to the "start" of the next run."""
    events = [line.split() for line in record.read_text().splitlines()]
    return [(int(b[1]) - int(a[1])) / 1e6 for a, b in zip(events, events[1:]) if a[0] == "exit" and b[0] == "start"]


def respawn_floor(build, crashes):
    """The same crash loop with no supervisor's work in it: spawn the same start script (a new
    session, as the launcher does), wait for it, spawn it again (os.posix_spawn: vfork and exec in
    glibc). What this machine's exit, fork and two execs cost; a supervisor's p50 above it is its
    own work. Returns (p50, n)."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-bench-"))
    record = root / "crasher.times"
    script = root / "crash.sh"
    script.write_text(f"#!/bin/sh\nexec {build / 'bin' / 'bench_crasher'} 20\n")
    script.chmod(0o755)
    env = dict(os.environ, CRASHER_FILE=str(record))
    for _ in range(crashes + 1):
        pid = os.posix_spawn(str(script), [str(script)], env, setsid=True)
        os.waitpid(pid, 0)
    gaps = respawn_gaps(record)
    shutil.rmtree(root, ignore_errors=True)
    return statistics.median(gaps), len(gaps)


@contextlib.contextmanager
def jvm_beside(java):
    """A JVM idling beside the supervisor while its memory is measured, as on a WSO2 host, where
    the supervised processes are JVMs: Debian's OpenJDK maps libstdc++, so the pages of it that
    both touch are no longer the supervisor's alone. No JVM when `java` is None."""
    if java is None:
        yield
        return
    folder = pathlib.Path(tempfile.mkdtemp(prefix="carbon-bench-jvm-"))
    (folder / "Idle.java").write_text(
        "public class Idle { public static void main(String[] a) throws Exception {\n"
        "  System.out.println(\"idle\"); Thread.sleep(3_600_000); } }\n")
    jvm = subprocess.Popen([java, "-Xmx64m", str(folder / "Idle.java")], stdout=subprocess.PIPE, text=True)
    try:
        # Started and past its class loading; a JVM that hangs before printing is given 60 s.
        ready, _, _ = select.select([jvm.stdout], [], [], 60)
        if not ready or jvm.stdout.readline().strip() != "idle":
            status = jvm.poll()
            raise RuntimeError(f"{java} did not print 'idle' within 60 s "
                               f"({'still running: killed' if status is None else f'exit status {status}'})")
        yield
    finally:
        jvm.kill()
        jvm.wait()
        shutil.rmtree(folder, ignore_errors=True)


def idle_memory(kind, build, count):
    """The supervisor's Memory with `count` idle instances, once they run and start-up settled."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-bench-"))
    sup = kind(build, root, count, SLOW_STOP_SCRIPT)
    try:
        wait_until(lambda: sup.running(count), 120, f"{count} instances running under {kind.name}")
        time.sleep(1)  # let start-up work settle before measuring
        return Memory(sup.proc.pid)
    finally:
        try:
            sup.stop_all()
        finally:
            sup.close()
            shutil.rmtree(root, ignore_errors=True)


def idle_and_stop(kind, build, count, idle_s):
    root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-bench-"))
    sup = kind(build, root, count, SLOW_STOP_SCRIPT)
    try:
        wait_until(lambda: sup.running(count), 120, f"{count} instances running under {kind.name}")
        time.sleep(1)  # let start-up work settle before measuring
        memory = Memory(sup.proc.pid)
        before = context_switches(sup.proc.pid)
        time.sleep(idle_s)
        wakeups = context_switches(sup.proc.pid) - before
        # What answering one status request leaves behind (the page of every instance is built,
        # sent and freed; what the allocator keeps of it stays with the daemon).
        sup.ask_status()
        time.sleep(0.5)
        after_status = Memory(sup.proc.pid)
        started = time.monotonic()
        sup.stop_all()
        stop_s = time.monotonic() - started
    finally:
        sup.close()
        shutil.rmtree(root, ignore_errors=True)
    return memory, wakeups, stop_s, after_status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", type=pathlib.Path)
    parser.add_argument("--instances", type=int, default=50, help="N, the larger instance count")
    parser.add_argument("--baseline", type=int, default=1,
                        help="the smaller instance count that memory growth is measured from")
    parser.add_argument("--idle-s", type=float, default=10)
    parser.add_argument("--crashes", type=int, default=40)
    parser.add_argument("--beside-jvm", metavar="JAVA",
                        help="measure memory with this java idling beside, e.g. "
                             "/usr/lib/jvm/java-17-openjdk-amd64/bin/java")
    parser.add_argument("--only", choices=["carbon-launcher", "supervisord"], help="measure one of them")
    options = parser.parse_args()
    if not 1 <= options.baseline < options.instances:
        parser.error("--baseline must be at least 1 and below --instances")
    options.build = options.build.resolve()
    kinds = [Launcher]
    if shutil.which("supervisord"):
        kinds.append(Supervisord)
    else:
        print("supervisord not installed (apt-get install supervisor): measuring carbon-launcher alone")
    kinds = [k for k in kinds if options.only in (None, k.name)]
    n, base = options.instances, options.baseline
    floor_p50, floor_samples = respawn_floor(options.build, options.crashes)
    print(f"this machine's floor:  p50 {floor_p50:8.2f} ms (n={floor_samples}): the same crash loop as a bare "
          f"spawn-and-wait loop, no supervisor (load average {os.getloadavg()[0]:.2f})")
    results = {}
    for kind in kinds:
        p50, worst, samples = crash_latency(kind, options.build, options.crashes)
        with jvm_beside(options.beside_jvm):
            small = idle_memory(kind, options.build, base)
            large, wakeups, stop_s, after_status = idle_and_stop(kind, options.build, n, options.idle_s)
        growth = {field: (getattr(large, field) - getattr(small, field)) / (n - base)
                  for field in ("rss", "pss", "uss", "dirty")}
        results[kind.name] = (p50, worst, samples, large, wakeups, stop_s, small, growth)
        launcher = kind is Launcher
        print(f"{kind.name}:")
        print(f"  crash-to-respawn      p50 {p50:8.2f} ms (max {worst:.2f}, n={samples}), "
              f"{p50 - floor_p50:+.2f} ms over the floor" +
              (f"   target p50 <= {TARGET_RESPAWN_P50_MS} ms: {verdict(p50, TARGET_RESPAWN_P50_MS)}"
               if launcher else ""))
        print(f"  memory, {base:3d} instance{'s' if base > 1 else ' '}  {small.describe()}")
        print(f"  memory, {n:3d} instances  {large.describe()}" +
              (f"   target USS <= {TARGET_USS_KIB / 1024:.0f} MiB: {verdict(large.uss, TARGET_USS_KIB)}"
               if launcher else ""))
        print(f"    its USS, KiB: {large.describe_private()}")
        print(f"  per extra instance    USS {growth['uss']:+7.1f} KiB (private dirty {growth['dirty']:+6.1f}), "
              f"RSS {growth['rss']:+7.1f} KiB, PSS {growth['pss']:+7.1f} KiB" +
              (f"   target USS growth <= {TARGET_GROWTH_KIB} KiB: {verdict(growth['uss'], TARGET_GROWTH_KIB)}"
               if launcher else ""))
        print(f"  after one status      {after_status.describe()}   "
              f"USS {(after_status.uss - large.uss):+.0f} KiB over idle")
        print(f"  wakeups in {options.idle_s:.0f} s idle  {wakeups:6d}")
        print(f"  stop {n} x 500 ms       {stop_s * 1000:8.0f} ms")
    if len(results) == 2:
        a, b = results["carbon-launcher"], results["supervisord"]
        print(f"supervisord / carbon-launcher: respawn latency x{b[0] / a[0]:.0f}, "
              f"with {n} instances RSS x{b[3].rss / a[3].rss:.1f}, PSS x{b[3].pss / a[3].pss:.1f}, "
              f"USS x{b[3].uss / a[3].uss:.1f}, USS per extra instance {b[7]['uss']:.1f} vs {a[7]['uss']:.1f} KiB, "
              f"stop time x{b[5] / a[5]:.1f}, wakeups {b[4]} vs {a[4]}")


if __name__ == "__main__":
    sys.exit(main())
