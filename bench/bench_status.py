#!/usr/bin/env python3
"""`status` round trip over the control socket with N running instances (default 50): p50/p95/max
of REQUESTS requests on one connection, and of the CLI end to end. A benchmark: prints figures,
never fails on speed. Uses lightweight instances (a script that prints the startup line and
sleeps), so that 50 of them fit any machine.

  bench_status.py BUILD_DIR [--instances 50] [--requests 500]"""
import argparse
import json
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

from bench_profiles import lightweight

IDLE_SCRIPT = """#!/bin/sh
echo "WSO2 Carbon started in 0 sec"
exec sleep 3600
"""


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", type=pathlib.Path)
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500)
    options = parser.parse_args()
    launcher = str(options.build.resolve() / "bin" / "carbon-launcher")
    root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-bench-status-"))
    profiles = root / "profiles"
    profiles.mkdir()
    for i in range(options.instances):
        home = root / "homes" / f"w{i}"
        (home / "bin").mkdir(parents=True)
        (home / "bin" / "api-manager.sh").write_text(IDLE_SCRIPT)
        (home / "bin" / "api-manager.sh").chmod(0o755)
        (profiles / f"w{i}.json").write_text(json.dumps(lightweight(root, {"name": f"w{i}", "runtime": "api-manager",
                                                                         "home": str(home), "stop_timeout_s": 5})))
    sock_path = root / "control.sock"
    log = open(root / "launcher.log", "w")
    proc = subprocess.Popen([launcher, "run", "--profiles", str(profiles), "--state-dir", str(root / "state"),
                             "--socket", str(sock_path)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while (root / "launcher.log").read_text().count("-> Running") < options.instances:
            if time.monotonic() > deadline:
                raise RuntimeError("the instances did not all start")
            time.sleep(0.1)
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(sock_path))
        reader = client.makefile("rb")
        samples = []
        size = 0
        for i in range(options.requests):
            started = time.perf_counter()
            client.sendall(b'{"v":2,"id":%d,"cmd":"status"}\n' % i)  # the first page
            line = reader.readline()
            samples.append((time.perf_counter() - started) * 1000)
            size = len(line)
        client.close()
        cli = []
        for _ in range(20):
            started = time.perf_counter()
            subprocess.run([launcher, "status", "--json", "--socket", str(sock_path)], check=True,
                           capture_output=True)
            cli.append((time.perf_counter() - started) * 1000)
        print(f"status with {options.instances} instances ({size} bytes): round trip p50 "
              f"{statistics.median(samples):.2f} ms, p95 {percentile(samples, 0.95):.2f} ms, max {max(samples):.2f} ms "
              f"over {options.requests} requests (target p50 < 2 ms)")
        print(f"`carbon-launcher status --json` end to end (process start included): p50 {statistics.median(cli):.1f} ms")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
