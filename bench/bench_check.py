#!/usr/bin/env python3
"""`carbon-launcher check` over N instances (default 50): wall time of the whole command (load
the profiles, plan, read the host and every JDK, print), p50 and max of RUNS runs, beside `plan`
alone. A benchmark: prints figures, never fails on speed. Use a Release build.

  bench_check.py BUILD_DIR [--instances 50] [--runs 20]"""
import argparse
import json
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import time

from bench_profiles import lightweight


def make_profiles(root, count):
    profiles = root / "profiles"
    profiles.mkdir()
    for i in range(count):
        home = root / "homes" / f"w{i}"
        (home / "bin").mkdir(parents=True)
        (home / "bin" / "api-manager.sh").write_text("#!/bin/sh\nexit 0\n")
        (home / "bin" / "version.txt").write_text("WSO2 API Manager-4.4.0\n")
        (home / "repository" / "conf").mkdir(parents=True)
        (home / "repository" / "conf" / "deployment.toml").write_text('[server]\nhostname = "localhost"\n')
        profile = {"name": f"w{i}", "runtime": "api-manager", "home": str(home)}
        (profiles / f"w{i}.json").write_text(json.dumps(lightweight(root, profile)))
    return profiles


def time_command(command, runs):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        samples.append((time.perf_counter() - start) * 1000)
        if result.returncode not in (0, 69):
            raise RuntimeError(f"{command[1]} exited {result.returncode}: {result.stderr}")
    return statistics.median(samples), max(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", type=pathlib.Path)
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()
    launcher = str(options.build.resolve() / "bin" / "carbon-launcher")
    root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-bench-check-"))
    try:
        profiles = make_profiles(root, options.instances)
        common = ["--profiles", str(profiles), "--state-dir", str(root / "state")]
        check = time_command([launcher, "check", *common], options.runs)
        check_json = time_command([launcher, "check", "--json", *common], options.runs)
        plan = time_command([launcher, "plan", *common], options.runs)
        print(f"{options.instances} instances, {options.runs} runs each (wall time of the whole command)")
        for label, (p50, worst) in (("check", check), ("check --json", check_json), ("plan", plan)):
            print(f"  {label:<13} p50 {p50:6.1f} ms   max {worst:6.1f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
