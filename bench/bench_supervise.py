#!/usr/bin/env python3
"""Runs the same workloads under carbon-launcher and, when installed, supervisord, and prints
figures and ratios. A benchmark, not a test: it never fails on speed.

  bench_supervise.py BUILD_DIR [--instances 50] [--idle-s 10] [--crashes 40]

Workloads: crash-to-respawn latency of one crashing process; launcher RSS with N idle
instances; wakeups (context switches) of the supervisor while they idle; time to stop N
instances that each take 500 ms to stop on SIGTERM. Everything runs on this machine; every
process started here is stopped by its pid."""
import argparse
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]

SLOW_STOP_SCRIPT = """#!/bin/sh
# Idles until SIGTERM, then takes 500 ms to stop, like a JVM running its shutdown hooks.
trap 'sleep 0.5; exit 0' TERM
echo "WSO2 Carbon started in 0 sec"
while :; do sleep 3600 & wait $!; done
"""


def memory_kib(pid):
    """(RSS, PSS, anonymous) in KiB. RSS counts every shared-library page the process touched;
    PSS shares them out among their users; anonymous is the process's own heap and stacks."""
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0])
    return fields["Rss"], fields["Pss"], fields["Anonymous"]


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
            (self.profiles / f"w{i}.json").write_text(json.dumps(profile))
        self.log = open(self.root / "launcher.log", "w")
        self.proc = subprocess.Popen([str(build / "bin" / "carbon-launcher"), "run", "--profiles",
                                      str(self.profiles), "--state-dir", str(self.root / "state")],
                                     stdout=self.log, stderr=self.log)

    def running(self, count):
        return (self.root / "launcher.log").read_text().count("-> Running") >= count

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
    events = [line.split() for line in record.read_text().splitlines()]
    gaps = [(int(b[1]) - int(a[1])) / 1e6 for a, b in zip(events, events[1:]) if a[0] == "exit" and b[0] == "start"]
    shutil.rmtree(root, ignore_errors=True)
    return statistics.median(gaps), max(gaps), len(gaps)


def idle_and_stop(kind, build, count, idle_s):
    root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-bench-"))
    sup = kind(build, root, count, SLOW_STOP_SCRIPT)
    try:
        wait_until(lambda: sup.running(count), 120, f"{count} instances running under {kind.name}")
        time.sleep(1)  # let start-up work settle before measuring
        pids = [sup.proc.pid]
        rss = memory_kib(sup.proc.pid)
        before = context_switches(sup.proc.pid)
        time.sleep(idle_s)
        wakeups = context_switches(sup.proc.pid) - before
        started = time.monotonic()
        sup.stop_all()
        stop_s = time.monotonic() - started
    finally:
        sup.close()
        shutil.rmtree(root, ignore_errors=True)
    return rss, wakeups, stop_s


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", type=pathlib.Path)
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--idle-s", type=float, default=10)
    parser.add_argument("--crashes", type=int, default=40)
    parser.add_argument("--only", choices=["carbon-launcher", "supervisord"], help="measure one of them")
    options = parser.parse_args()
    options.build = options.build.resolve()
    kinds = [Launcher]
    if shutil.which("supervisord"):
        kinds.append(Supervisord)
    else:
        print("supervisord not installed (apt-get install supervisor): measuring carbon-launcher alone")
    kinds = [k for k in kinds if options.only in (None, k.name)]
    results = {}
    for kind in kinds:
        p50, worst, samples = crash_latency(kind, options.build, options.crashes)
        rss, wakeups, stop_s = idle_and_stop(kind, options.build, options.instances, options.idle_s)
        results[kind.name] = (p50, worst, samples, rss, wakeups, stop_s)
        print(f"{kind.name:16} crash-to-respawn p50 {p50:8.2f} ms (max {worst:.2f}, n={samples}) | "
              f"with {options.instances} instances RSS {rss[0] / 1024:5.1f} MiB, PSS {rss[1] / 1024:5.1f}, "
              f"anon {rss[2] / 1024:5.1f} | "
              f"wakeups in {options.idle_s:.0f} s idle {wakeups:4d} | "
              f"stop {options.instances} x 500 ms {stop_s * 1000:8.0f} ms")
    if len(results) == 2:
        a, b = results["carbon-launcher"], results["supervisord"]
        print(f"supervisord / carbon-launcher: respawn latency x{b[0] / a[0]:.0f}, RSS x{b[3][0] / a[3][0]:.1f}, "
              f"PSS x{b[3][1] / a[3][1]:.1f}, "
              f"stop time x{b[5] / a[5]:.1f}, wakeups {b[4]} vs {a[4]}")


if __name__ == "__main__":
    sys.exit(main())
