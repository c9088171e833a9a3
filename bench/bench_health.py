#!/usr/bin/env python3
"""The launcher's CPU cost of liveness probing. A benchmark, not a test: it never fails on speed.

  bench_health.py BUILD_DIR [--instances 50] [--interval-s 5] [--measure-s 60]

Starts N simulated API-M instances (carbon-sim, offsets chosen by the planner) whose liveness probe is
GET /services/Version over HTTP every INTERVAL s, waits until all are Running, then reads the
launcher's CPU time (utime + stime from /proc/PID/stat) over MEASURE s and prints it as a share
of one core, beside the target (under 1 %). Every process started here is stopped by its pid
(the launcher stops its instances on SIGTERM; what is left is killed by process group)."""
import argparse
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from bench_profiles import lightweight

REPO = pathlib.Path(__file__).resolve().parents[1]
TARGET_CPU_PERCENT = 1.0


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_instances(root, sim, count, interval_s):
    profiles = root / "profiles"
    profiles.mkdir(parents=True)
    for i in range(count):
        name = f"apim-{i}"
        home = root / "homes" / name
        subprocess.run([str(REPO / "scripts" / "make-sim-home.sh"), "api-manager", str(home), str(sim)],
                       check=True, timeout=60, stdout=subprocess.DEVNULL)
        (home / "sim.json").write_text(json.dumps({"start_delay_ms": 100, "stop_delay_ms": 50}))
        profile = {"name": name, "runtime": "api-manager", "home": str(home),
                   "stop_timeout_s": 10,
                   "health": {"liveness": {"interval_s": interval_s}}}
        (profiles / f"{name}.json").write_text(json.dumps(lightweight(root, profile)))
    return profiles


def wait_running(log_path, count, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log_path.read_text(errors="replace").count("-> Running") >= count:
            return
        time.sleep(0.5)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
    raise SystemExit(f"not all {count} instances were Running within {timeout_s} s:\n{tail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir")
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--interval-s", type=int, default=5)
    parser.add_argument("--measure-s", type=int, default=60)
    args = parser.parse_args()
    build = pathlib.Path(args.build_dir).resolve()
    root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-bench-health-"))
    launcher = None
    try:
        profiles = make_instances(root, build / "bin" / "carbon-sim", args.instances, args.interval_s)
        log_path = root / "launcher.log"
        with open(log_path, "w") as log:
            launcher = subprocess.Popen([str(build / "bin" / "carbon-launcher"), "run", "--profiles", str(profiles),
                                         "--state-dir", str(root / "state"), "--socket", str(root / "control.sock")],
                                        stdout=log, stderr=subprocess.STDOUT)
        wait_running(log_path, args.instances, 300)
        time.sleep(args.interval_s)  # past the first round of liveness probes
        before, started = cpu_seconds(launcher.pid), time.monotonic()
        time.sleep(args.measure_s)
        used, elapsed = cpu_seconds(launcher.pid) - before, time.monotonic() - started
        probes = args.instances * elapsed / args.interval_s
        share = 100 * used / elapsed
        print(f"instances {args.instances}, liveness every {args.interval_s} s, measured {elapsed:.0f} s")
        print(f"launcher CPU: {used:.2f} s = {share:.3f} % of one core "
              f"(target < {TARGET_CPU_PERCENT} %: {'met' if share < TARGET_CPU_PERCENT else 'MISSED'}); "
              f"about {probes:.0f} probes, {1e6 * used / max(probes, 1):.0f} us of CPU per probe")
        failures = log_path.read_text(errors="replace").count("liveness probe failed")
        print(f"liveness failures logged: {failures}")
    finally:
        if launcher and launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)
            try:
                launcher.wait(timeout=120)
            except subprocess.TimeoutExpired:
                launcher.kill()
                launcher.wait(timeout=30)
        for record in (root / "state" / "instances").glob("*.json") if (root / "state" / "instances").exists() else []:
            try:
                os.killpg(json.loads(record.read_text())["pgid"], signal.SIGKILL)
            except (ProcessLookupError, PermissionError, KeyError, ValueError):
                pass
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
