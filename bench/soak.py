#!/usr/bin/env python3
"""Soak test of `carbon-launcher run`: N flapping instances and K clients hammering the control
socket for M minutes, while the daemon's resources are sampled every S seconds. It reports; it
never fails on a figure (not run in CI).

  soak.py BUILD_DIR [--instances 50] [--minutes 10] [--clients 8] [--sample-s 10]
          [--warmup-s 30] [--client-pause-ms 10] [--no-never-reads] [--shared-net] [--keep]

Instances: API-M homes whose start script prints the startup line (ready at once), writes some
output, and exits 1 after 0.5-4.5 s; every fourth run leaves a child behind that outlives the
script (as API-M 4.3+'s diagnostics JVM does), so the launcher also stops the rest of a group.
w0 is chatty (about 60 KB a run) so that its log rotates (log.max_size_mb 1, max_files 2).
Restart policy always, delay 100 ms (cap 1 s), retries unlimited.

Clients: K threads, each looping over, at random: `status` on a new connection and on a kept
connection, the CLI's `status`, `status --json` and `logs NAME -n 20`, watchers and log followers
that disconnect after 0.2-2 s, connections closed mid-request. Besides them: one client that
asks for `watch` and `status` and never reads (the daemon must drop it at 4 MiB unread), and one
that connects and sends nothing (dropped after 10 s). The daemon holds up to 4 MiB of output for
the client that never reads, so its memory saws up and down by that much (--no-never-reads leaves
that client out).

Samples: the daemon's RSS, PSS, USS and private dirty memory, open fds, threads, CPU, zombie
children, live processes in the instances' groups (descendants of the daemon), the state dir's
size (logs apart), restarts so far, the status round trip, the clients' operations and errors.
Sampling starts after a warm-up (--warmup-s) under the full load; at the end each series'
first-quarter mean is compared with its last-quarter mean. The host's load average and the time
the daemon waited for a CPU are printed beside them: on a shared machine they explain most of
what the round trip and the CPU figures do. A memory reading that meets a child between fork
and exec is retried (until it execs, the pages the two share count as shared, and USS
collapses to nearly nothing).

As root (with unshare and ip), the daemon runs in a private network namespace with only
loopback up, like scripts/test.sh runs the tests, so the host's ports do not matter. Everything
started here is stopped by its pid or its process group (whose members are checked to be ours)
at the end and on Ctrl-C; the temp dir is removed unless --keep."""
import argparse
import json
import os
import pathlib
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from bench_profiles import lightweight

# The control protocol version (common/control_protocol.hpp, kControlProtocolVersion).
PROTOCOL = 2

FLAP_SCRIPT = """#!/bin/sh
# Ready at once, some output, then a crash after 0.5-4.5 s (from the pid: dash has no $RANDOM).
echo "WSO2 Carbon started in 0 sec"
i=0
while [ $i -lt {lines} ]; do
    echo "run $$ line $i: the quick brown fox jumps over the lazy dog, padding to a realistic length"
    i=$((i + 1))
done
# Every fourth run leaves a child that outlives the script, like API-M's diagnostics JVM.
if [ $(($$ % 4)) -eq 0 ]; then sleep 5 & fi
ms=$(( ($$ * 7919) % 4000 + 500 ))
sleep $((ms / 1000)).$(printf %03d $((ms % 1000)))
echo "run $$: crashing"
exit 1
"""
LOG_MAX_MB = 1
LOG_MAX_FILES = 2
CLI_TIMEOUT_S = 30
SOCKET_TIMEOUT_S = 5


def now():
    return time.monotonic()


# ---------------------------------------------------------------------------------------------
# /proc readings

def proc_table():
    """{pid: (ppid, state, pgid)} of every process visible now."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        table[int(entry.name)] = (int(fields[1]), fields[0], int(fields[2]))
    return table


def descendants(root_pid, table):
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    result, todo = [], list(children.get(root_pid, []))
    while todo:
        pid = todo.pop()
        result.append(pid)
        todo += children.get(pid, [])
    return result


def unexeced_children(pid, exe):
    """Children of `pid` that are still copies of it (forked, not yet exec'd)."""
    found = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children = f.read().split()
        except FileNotFoundError:
            continue
        for child in children:
            try:
                found += os.readlink(f"/proc/{child}/exe") == exe
            except OSError:
                pass
    return found


def settled_memory(pid, exe, tries=50):
    """memory(pid) at a moment when no child of it is between fork and exec: until a child
    execs, every page the two share is counted as shared, and USS falls to almost nothing.
    Returns (memory, how many reads found a fork in flight)."""
    hits = 0
    for _ in range(tries):
        if not unexeced_children(pid, exe):
            reading = memory(pid)
            if not unexeced_children(pid, exe):
                return reading, hits
        hits += 1
        time.sleep(0.002)
    return memory(pid), hits


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f.read().splitlines()[1:]:
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0])
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields["Private_Clean"] + fields["Private_Dirty"], "dirty": fields["Private_Dirty"]}


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run_delay_ns(pid):
    """Time the process has spent runnable but waiting for a CPU (/proc/PID/schedstat)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[1])


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def threads(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def state_bytes(state):
    """(bytes under `state` outside logs/, bytes of each instance's logs), from one walk."""
    other, logs = 0, {}
    for dirpath, _, files in os.walk(state):
        in_logs = pathlib.Path(dirpath) == state / "logs"
        for name in files:
            try:
                size = os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                continue
            if in_logs and ".log" in name:
                instance = name.split(".log")[0]
                logs[instance] = logs.get(instance, 0) + size
            else:
                other += size
    return other, logs


def ours(pid, root):
    """True when `pid`'s working directory is under `root` (the instances run in their homes)."""
    try:
        return os.readlink(f"/proc/{pid}/cwd").startswith(str(root))
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# The control socket

def request(sock_path, cmd, names=(), lines=0, follow=False, timeout=SOCKET_TIMEOUT_S):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(sock_path))
        sock.sendall(json.dumps({"v": PROTOCOL, "id": 1, "cmd": cmd, "names": list(names), "lines": lines,
                                 "follow": follow}).encode() + b"\n")
        return read_reply(sock)


def read_reply(sock, buffer=b""):
    while b"\n" not in buffer:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the launcher closed the connection before replying")
        buffer += chunk
    line, _, rest = buffer.partition(b"\n")
    reply = json.loads(line)
    if not reply.get("ok"):
        raise RuntimeError(f"error reply: {reply.get('error')}")
    return reply["result"], rest


class Stats:
    """Operation and error counts shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops = {}
        self.errors = {}
        self.examples = []
        self.notes = {}

    def ok(self, what):
        with self.lock:
            self.ops[what] = self.ops.get(what, 0) + 1

    def error(self, what, problem):
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1
            if len(self.examples) < 10:
                self.examples.append(f"{what}: {problem}")

    def note(self, what, value):
        with self.lock:
            self.notes.setdefault(what, []).append(value)

    def totals(self):
        with self.lock:
            return sum(self.ops.values()), sum(self.errors.values())


class Clients:
    def __init__(self, launcher, sock_path, names, count, pause_s, stats, never_reads=True):
        self.launcher, self.sock_path, self.names = launcher, sock_path, names
        self.pause_s, self.stats = pause_s, stats
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._hammer, args=(i,), daemon=True) for i in range(count)]
        if never_reads:
            self.threads.append(threading.Thread(target=self._never_reads, daemon=True))
        self.threads.append(threading.Thread(target=self._silent, daemon=True))

    def start(self):
        for thread in self.threads:
            thread.start()

    def close(self):
        self.stop.set()
        deadline = now() + CLI_TIMEOUT_S + 10
        for thread in self.threads:
            thread.join(timeout=max(0.1, deadline - now()))
        return [t for t in self.threads if t.is_alive()]

    def _cli(self, *args):
        result = subprocess.run([self.launcher, *args, "--socket", str(self.sock_path)], capture_output=True,
                                text=True, timeout=CLI_TIMEOUT_S, start_new_session=True)
        if result.returncode != 0:
            raise RuntimeError(f"exit {result.returncode}: {result.stderr.strip()[:200]}")

    def _hammer(self, index):
        rng = random.Random(index)
        kept, kept_used = None, 0.0
        actions = ["status", "status-kept", "cli-status", "cli-status-json", "cli-logs", "watch", "logs-follow",
                   "half-request"]
        weights = [4, 6, 1, 1, 1, 2, 1, 1]
        while not self.stop.is_set():
            what = rng.choices(actions, weights)[0]
            name = rng.choice(self.names)
            try:
                if what == "status":
                    started = time.perf_counter()
                    request(self.sock_path, "status")
                    self.stats.note("status_ms", (time.perf_counter() - started) * 1000)
                elif what == "status-kept":
                    # The launcher hangs up on a connection that owes it a request for 10 s (by
                    # design): a kept connection idle that long is expected to be gone.
                    if kept is not None and now() - kept_used > 9:
                        try:
                            kept.sendall(b'{"v":%d,"id":2,"cmd":"status","names":["%s"]}\n' % (PROTOCOL, name.encode()))
                            read_reply(kept)
                            self.stats.ok("status-kept idle but still open")
                        except OSError:
                            self.stats.ok("status-kept dropped when idle >= 9 s (by design)")
                        kept.close()
                        kept = None
                    if kept is None:
                        kept = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        kept.settimeout(SOCKET_TIMEOUT_S)
                        kept.connect(str(self.sock_path))
                    kept.sendall(b'{"v":%d,"id":2,"cmd":"status","names":["%s"]}\n' % (PROTOCOL, name.encode()))
                    read_reply(kept)
                    kept_used = now()
                elif what == "cli-status":
                    self._cli("status")
                elif what == "cli-status-json":
                    self._cli("status", "--json")
                elif what == "cli-logs":
                    self._cli("logs", name, "-n", "20")
                elif what in ("watch", "logs-follow"):
                    self._briefly(what, name, rng.uniform(0.2, 2.0))
                elif what == "half-request":
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                        sock.settimeout(SOCKET_TIMEOUT_S)
                        sock.connect(str(self.sock_path))
                        sock.sendall(b'{"v":%d,"id":3,"cmd":"sta' % PROTOCOL)
                self.stats.ok(what)
            except Exception as e:  # noqa: BLE001 -- every failure is counted and shown, none ends the soak
                self.stats.error(what, f"{type(e).__name__}: {e}")
                if what == "status-kept" and kept is not None:
                    kept.close()
                    kept = None
            self.stop.wait(self.pause_s)
        if kept is not None:
            kept.close()

    def _briefly(self, what, name, seconds):
        """A watcher or log follower that reads for `seconds` and hangs up, mid-event or not."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(str(self.sock_path))
            if what == "watch":
                names = [] if random.random() < 0.5 else [name]
                sock.sendall(json.dumps({"v": PROTOCOL, "id": 4, "cmd": "watch", "names": names}).encode() + b"\n")
            else:
                sock.sendall(json.dumps({"v": PROTOCOL, "id": 5, "cmd": "logs", "names": [name], "lines": 5,
                                         "follow": True}).encode() + b"\n")
            events = 0
            deadline = now() + seconds
            while now() < deadline and not self.stop.is_set():
                try:
                    chunk = sock.recv(4096)
                except socket.timeout:
                    continue
                if not chunk:
                    raise ConnectionError("closed by the launcher")
                events += chunk.count(b"\n")
            self.stats.note(f"{what}_lines", events)

    def _never_reads(self):
        """Asks for a stream of output and never reads it: the launcher must drop it (4 MiB)."""
        while not self.stop.is_set():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(1)
            opened = now()
            try:
                sock.connect(str(self.sock_path))
                sock.sendall(b'{"v":%d,"id":6,"cmd":"watch","names":[]}\n' % PROTOCOL)
                while not self.stop.is_set() and now() - opened < 300:
                    try:
                        sock.sendall(b'{"v":%d,"id":7,"cmd":"status","names":[]}\n' % PROTOCOL)
                    except socket.timeout:
                        pass  # our own send buffer is full too: the launcher is not reading either
                    self.stop.wait(0.05)
                else:
                    if not self.stop.is_set():
                        self.stats.error("never-reads", "not dropped within 300 s")
            except (BrokenPipeError, ConnectionResetError):
                self.stats.ok("never-reads dropped")
                self.stats.note("never_reads_dropped_after_s", now() - opened)
            except OSError as e:
                self.stats.error("never-reads", f"{type(e).__name__}: {e}")
                self.stop.wait(1)
            finally:
                sock.close()

    def _silent(self):
        """Connects and sends nothing: the launcher must hang up after 10 s."""
        while not self.stop.is_set():
            opened = now()
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.settimeout(0.5)
                    sock.connect(str(self.sock_path))
                    while not self.stop.is_set():
                        try:
                            if sock.recv(1024) == b"":
                                self.stats.ok("silent dropped")
                                self.stats.note("silent_dropped_after_s", now() - opened)
                                break
                        except socket.timeout:
                            if now() - opened > 30:
                                self.stats.error("silent", "not dropped within 30 s")
                                break
            except OSError as e:
                self.stats.error("silent", f"{type(e).__name__}: {e}")
                self.stop.wait(1)


# ---------------------------------------------------------------------------------------------
# The daemon and its instances

class Soak:
    def __init__(self, options):
        self.options = options
        self.launcher = str(options.build / "bin" / "carbon-launcher")
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-soak-"))
        self.profiles = self.root / "profiles"
        self.state = self.root / "state"
        self.sock_path = self.root / "control.sock"
        self.names = [f"w{i}" for i in range(options.instances)]
        self.proc = None
        self.log = None
        self.pgids = set()
        self.isolated = False
        self.exe = None

    def write_homes(self):
        self.profiles.mkdir()
        for i, name in enumerate(self.names):
            home = self.root / "homes" / name
            (home / "bin").mkdir(parents=True)
            script = home / "bin" / "api-manager.sh"
            script.write_text(FLAP_SCRIPT.replace("{lines}", "600" if i == 0 else "20"))
            script.chmod(0o755)
            profile = {"name": name, "runtime": "api-manager", "home": str(home), "offset": "auto",
                       "stop_timeout_s": 5,
                       "restart": {"policy": "always", "delay_ms": 100, "max_delay_ms": 1000,
                                   "max_retries": 1000000, "reset_after_s": 1},
                       "log": {"max_size_mb": LOG_MAX_MB, "max_files": LOG_MAX_FILES}}
            (self.profiles / f"{name}.json").write_text(json.dumps(lightweight(self.root, profile)))

    def start(self):
        command = [self.launcher, "run", "--profiles", str(self.profiles), "--state-dir", str(self.state),
                   "--socket", str(self.sock_path)]
        if (os.geteuid() == 0 and not self.options.shared_net and shutil.which("unshare") and shutil.which("ip")
                and subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0):
            # unshare and sh both exec: the pid of the Popen is the launcher's.
            command = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "isolated", *command]
            self.isolated = True
        self.log = open(self.root / "launcher.log", "w")
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=self.log, start_new_session=True)
        self.exe = os.path.realpath(self.launcher)

    def wait_all_running(self, timeout):
        deadline = now() + timeout
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the launcher exited {self.proc.returncode}:\n" + self.log_tail())
            try:
                result, _ = request(self.sock_path, "status")
                # Every instance has been ready at least once (or is now).
                if all(i["state"] == "Running" or i["restarts"] > 0 for i in result["instances"]):
                    return
            except (OSError, RuntimeError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError("the instances did not all start within %d s:\n%s" % (timeout, self.log_tail()))

    def log_tail(self):
        try:
            return "\n".join((self.root / "launcher.log").read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def stop(self):
        """SIGTERM to the launcher (it stops every group), SIGKILL after 60 s; then any group of
        ours that is still there, and a check that nothing of ours is left."""
        report = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
                report.append(f"launcher exited {self.proc.returncode} after SIGTERM")
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
                report.append("launcher did not stop within 60 s of SIGTERM: SIGKILLed")
        if self.log is not None:
            self.log.close()
        table = proc_table()
        left = [pid for pid in table if ours(pid, self.root)]
        for pgid in sorted(self.pgids | {table[p][2] for p in left}):
            members = [pid for pid, (_, _, g) in table.items() if g == pgid]
            if members and all(ours(pid, self.root) for pid in members):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                    report.append(f"SIGKILLed leftover group {pgid} ({len(members)} processes)")
                except ProcessLookupError:
                    pass
        deadline = now() + 10
        while now() < deadline and any(ours(pid, self.root) for pid in proc_table()):
            time.sleep(0.1)
        left = [pid for pid in proc_table() if ours(pid, self.root)]
        report.append(f"processes of ours left after the end: {len(left)}" + (f" {left}" if left else ""))
        return report

    def sample(self, previous):
        pid = self.proc.pid
        table = proc_table()
        below = descendants(pid, table)
        for p in below:
            self.pgids.add(table[p][2])
        mem, fork_hits = settled_memory(pid, self.exe)
        ticks = cpu_ticks(pid)
        waited = run_delay_ns(pid)
        other_bytes, per_instance_logs = state_bytes(self.state)
        started = time.perf_counter()
        result, _ = request(self.sock_path, "status", timeout=30)
        status_ms = (time.perf_counter() - started) * 1000
        states = {}
        for instance in result["instances"]:
            states[instance["state"]] = states.get(instance["state"], 0) + 1
        at = now()
        row = {
            "t": at, **mem,
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": threads(pid),
            "zombies": sum(1 for p in below if table[p][1] == "Z"),
            "zombie_children": sum(1 for p in below if table[p][1] == "Z" and table[p][0] == pid),
            "live": sum(1 for p in below if table[p][1] != "Z"),
            "fork_hits": fork_hits,
            "state_b": other_bytes,
            "logs_b": sum(per_instance_logs.values()),
            "largest_log_set_b": max(per_instance_logs.values(), default=0),
            "restarts": sum(i["restarts"] for i in result["instances"]),
            "fatal": states.get("Fatal", 0),
            "states": states,
            "status_ms": status_ms,
            "ticks": ticks,
            "waited_ns": waited,
            "load": load_average(),
        }
        if previous is not None:
            span = at - previous["t"]
            row["restart_rate"] = (row["restarts"] - previous["restarts"]) / span
            row["cpu_pct"] = (ticks - previous["ticks"]) / os.sysconf("SC_CLK_TCK") / span * 100
            row["wait_pct"] = (waited - previous["waited_ns"]) / 1e9 / span * 100
        return row


# ---------------------------------------------------------------------------------------------
# Report

SERIES = [  # key, label, relative tolerance, absolute tolerance (unit of the series)
    ("rss", "RSS KiB", 0.05, 256),
    ("pss", "PSS KiB", 0.05, 256),
    ("uss", "USS KiB", 0.05, 256),
    ("dirty", "private dirty KiB", 0.05, 128),
    ("fds", "open fds", 0.0, 3),
    ("threads", "threads", 0.0, 0.5),
    ("zombies", "zombie descendants", 0.0, 1),
    ("live", "live group processes", 0.15, 10),
    ("state_b", "state dir bytes (logs apart)", 0.10, 16384),
    ("restart_rate", "restarts per s", 0.15, 1),
    ("cpu_pct", "daemon CPU %", 0.25, 2),
    ("status_ms", "status round trip ms", 0.5, 2),
]
CONTEXT = [  # not judged: what the rest of the machine did meanwhile
    ("load", "host load average (1 min)"),
    ("wait_pct", "daemon waiting for a CPU %"),
]


def print_header():
    print(f"{'t s':>6} {'RSS KiB':>8} {'PSS':>6} {'USS':>6} {'dirty':>6} {'fds':>4} {'thr':>3} {'zomb':>4} "
              f"{'live':>5} {'state B':>8} {'logs KiB':>8} {'restarts':>8} {'rst/s':>6} {'cpu%':>5} "
              f"{'wait%':>5} {'load':>5} {'stat ms':>7} {'ops':>7} {'err':>4} states")


def print_row(row, started):
    print(f"{row['t'] - started:6.0f} {row['rss']:8d} {row['pss']:6d} {row['uss']:6d} {row['dirty']:6d} "
              f"{row['fds']:4d} {row['threads']:3d} {row['zombies']:4d} {row['live']:5d} {row['state_b']:8d} "
              f"{row['logs_b'] // 1024:8d} {row['restarts']:8d} {row.get('restart_rate', 0):6.1f} "
          f"{row.get('cpu_pct', 0):5.1f} {row.get('wait_pct', 0):5.1f} {row['load']:5.1f} {row['status_ms']:7.2f} {row['ops']:7d} {row['errors']:4d} "
          + " ".join(f"{k}={v}" for k, v in sorted(row["states"].items())))


def verdicts(rows):
    lines = []
    flat_all = True
    for key, label, rel, absolute in SERIES:
        values = [r[key] for r in rows if key in r]
        if len(values) < 4:
            lines.append(f"  {label:30} too few samples ({len(values)}) to judge")
            flat_all = None
            continue
        quarter = max(1, len(values) // 4)
        first = statistics.mean(values[:quarter])
        last = statistics.mean(values[-quarter:])
        drift = last - first
        tolerance = max(abs(first) * rel, absolute)
        flat = abs(drift) <= tolerance
        if flat_all is not None:
            flat_all &= flat
        percent = f"{drift / first * 100:+6.1f}%" if first else "   n/a"
        # A leak sets new peaks; a heap that found its high-water mark, or a sawtooth, does not.
        early_peak = max(values[:len(values) // 2])
        late_peak = max(values[-quarter:])
        judged = "flat" if flat else "NOT FLAT"
        if not flat and drift > 0:
            judged += (", no new peak (first-half peak %.0f, last-quarter peak %.0f)" % (early_peak, late_peak)
                       if late_peak <= early_peak + absolute else ", NEW PEAK in the last quarter")
        lines.append(f"  {label:30} first quarter {first:12.2f}  last quarter {last:12.2f}  drift {drift:+11.2f} "
                     f"({percent})  tolerance {tolerance:10.2f}  {judged}")
    for key, label in CONTEXT:
        values = [r[key] for r in rows if key in r]
        if len(values) >= 4:
            quarter = max(1, len(values) // 4)
            lines.append(f"  {label:30} first quarter {statistics.mean(values[:quarter]):12.2f}  last quarter "
                         f"{statistics.mean(values[-quarter:]):12.2f}  (context: the machine is shared)")
    return flat_all, lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", type=pathlib.Path)
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sample-s", type=float, default=10)
    parser.add_argument("--warmup-s", type=float, default=30, help="load before the first sample")
    parser.add_argument("--client-pause-ms", type=float, default=10, help="each client's pause between operations")
    parser.add_argument("--no-never-reads", action="store_true",
                        help="leave out the client that never reads (its 4 MiB of unread output is the daemon's)")
    parser.add_argument("--shared-net", action="store_true", help="as root too, stay in the host's network namespace")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (its path is printed)")
    options = parser.parse_args()
    options.build = options.build.resolve()

    # Ctrl-C and SIGTERM end the run through the same clean-up as its normal end.
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # also when started with SIGINT ignored (a background job)

    soak = Soak(options)
    stats = Stats()
    clients = None
    rows = []
    try:
        soak.write_homes()
        soak.start()
        print(f"soak: {options.instances} flapping instances, {options.clients} clients, {options.minutes:g} min, "
              f"a sample every {options.sample_s:g} s; launcher pid {soak.proc.pid}"
              f"{' in a private network namespace' if soak.isolated else ''}; dir {soak.root}", flush=True)
        soak.wait_all_running(180)
        clients = Clients(soak.launcher, soak.sock_path, soak.names, options.clients,
                          options.client_pause_ms / 1000, stats, never_reads=not options.no_never_reads)
        clients.start()
        # Warm-up: the first buffers and allocations (the never-reading client's 4 MiB above
        # all) are made before the baseline is taken.
        time.sleep(options.warmup_s)
        started = now()
        end = started + options.minutes * 60
        previous = None
        next_at = started
        while True:
            wait = next_at - now()
            if wait > 0:
                time.sleep(wait)
            if soak.proc.poll() is not None:
                raise RuntimeError(f"the launcher exited {soak.proc.returncode} during the soak:\n" + soak.log_tail())
            row = soak.sample(previous)
            row["ops"], row["errors"] = stats.totals()
            if previous is not None:  # the first sample only sets the baseline of the rates
                rows.append(row)
                if len(rows) == 1:
                    print_header()
                print_row(row, started)
                sys.stdout.flush()
            previous = row
            next_at += options.sample_s
            if next_at > end + 0.001:
                break
    except KeyboardInterrupt:
        print("\nsoak: interrupted; stopping everything it started", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the clean-up itself is not interrupted
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stuck = clients.close() if clients else []
        if stuck:
            print(f"soak: {len(stuck)} client threads still busy after the stop (they are daemon threads)")
        for line in soak.stop():
            print(f"soak: {line}")
        if options.keep:
            print(f"soak: kept {soak.root}")
        else:
            shutil.rmtree(soak.root, ignore_errors=True)

    if rows:
        print()
        print_header()
        for row in rows:
            print_row(row, rows[0]["t"] - options.sample_s)
        flat_all, lines = verdicts(rows)
        print("\nFirst quarter against last quarter of the samples:")
        print("\n".join(lines))
        cap = LOG_MAX_FILES * LOG_MAX_MB * 1024 * 1024
        largest = max(r["largest_log_set_b"] for r in rows)
        print(f"  {'logs':30} grow with output until rotation caps each instance: largest log set seen "
              f"{largest} bytes, cap {cap} (max_files x max_size_mb) + one write: "
              f"{'bounded' if largest <= cap + 256 * 1024 else 'OVER THE CAP'}")
        zombie_peak = max(r["zombie_children"] for r in rows)
        fatal_peak = max(r["fatal"] for r in rows)
        print(f"  zombie children of the launcher: peak {zombie_peak}; Fatal instances: peak {fatal_peak}")
        hits = sum(1 for r in rows if r["fork_hits"])
        print(f"  memory reads that met a child between fork and exec (and were retried): {hits} of {len(rows)} samples")
        with stats.lock:
            print("\nClient operations:", ", ".join(f"{k} {v}" for k, v in sorted(stats.ops.items())))
            print("Client errors:    ", ", ".join(f"{k} {v}" for k, v in sorted(stats.errors.items())) or "none")
            for example in stats.examples:
                print(f"  e.g. {example}")
            for key in ("status_ms", "never_reads_dropped_after_s", "silent_dropped_after_s"):
                values = sorted(stats.notes.get(key, []))
                if values:
                    print(f"{key}: n={len(values)} median {statistics.median(values):.2f} "
                          f"p99 {values[min(len(values) - 1, int(len(values) * 0.99))]:.2f} max {values[-1]:.2f}")
        if flat_all is None:
            print("\nVerdict: too few samples to judge (run longer, or sample more often)")
        else:
            verdict_ok = flat_all and largest <= cap + 256 * 1024 and fatal_peak == 0
            print(f"\nVerdict: {'every series stayed flat' if verdict_ok else 'something drifted or broke: see above'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
