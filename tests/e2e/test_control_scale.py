"""The control socket under load (issue 16, items 5 and 8): clients that never read must not grow
the launcher for good, and the status of 5000 instances must be readable. Real launcher, real
socket, real clients; each bound is generous so that these are not speed tests."""
import contextlib
import json
import os
import select
import signal
import subprocess
import time
import unittest

from support import (FIXTURES, LAUNCHER, RunningLauncher, Workspace, add_sim_instance, control_connect,
                     control_request, kill_leftover_groups, read_reply, record, request_line)

MIB = 1024 * 1024

# About 1 MB/s of output: enough to fill unread queues in seconds, little CPU on a shared host.
CHATTY_SCRIPT = """#!/bin/sh
echo "WSO2 Carbon started in 0.1 sec"
line=$(printf '%0150d' 0)
while :; do
    i=0
    while [ $i -lt 300 ]; do echo "$line"; i=$((i + 1)); done
    sleep 0.05
done
"""


def memory_kib(pid):
    """{"VmRSS": kib, "VmHWM": kib} of a live process."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


@contextlib.contextmanager
def environment(**values):
    """os.environ with `values` while the block runs (a child started in it inherits them)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_hung_up(sockets, timeout):
    """Waits, without reading, until the launcher has closed every socket; returns how many it
    has not closed when `timeout` passes."""
    poller = select.poll()
    left = {sock.fileno(): sock for sock in sockets}
    for fd in left:
        poller.register(fd, select.POLLRDHUP | select.POLLHUP)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for fd, events in poller.poll(max(0, int((deadline - time.monotonic()) * 1000))):
            if events & (select.POLLHUP | select.POLLRDHUP):
                poller.unregister(fd)
                left.pop(fd, None)
    return len(left)


class LauncherTestCase(unittest.TestCase):
    names = ()

    def start_launcher(self, timeout, ready_pattern):
        self.socket = self.ws.state / "control.sock"
        self.launcher = RunningLauncher(self.ws, ["--socket", str(self.socket)])
        self.addCleanup(self.end_launcher)  # before any wait
        self.launcher.wait_for(ready_pattern, timeout)

    def end_launcher(self):
        groups = [r["pgid"] for r in (record(self.ws, name) for name in self.names) if r]
        if self.launcher.proc.poll() is None:
            self.launcher.signal(signal.SIGTERM)
            try:
                self.launcher.wait_exit(120)
            except subprocess.TimeoutExpired:
                pass
        self.launcher.kill()
        kill_leftover_groups(groups)


class UnreadOutputTest(LauncherTestCase):
    """Clients that never read grew the daemon to ~277 MB, and it never went back."""

    names = ("chatty",)

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        # Its "JVM" is a shell loop that prints, not a server: no health probe would pass.
        off = "off"
        home = add_sim_instance(self.ws, "chatty", "api-manager", restart={"policy": "never"},
                                health={"startup": off, "readiness": off, "liveness": off})
        (home / "bin" / "api-manager.sh").write_text(CHATTY_SCRIPT)
        # AddressSanitizer keeps freed memory in quarantine, which would hide what the launcher
        # itself gives back; no effect on a build without it.
        options = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0",
                                         "allocator_release_to_os_interval_ms=100"]))
        with environment(ASAN_OPTIONS=options):
            self.start_launcher(30, r"chatty: Starting -> Running")

    def open_clients(self):
        """64 log followers (one user's cap) and 60 clients that send requests by the thousand;
        none of them ever reads."""
        followers, senders = [], []
        for _ in range(64):
            follower = control_connect(self.socket)
            follower.sendall(request_line("logs", ["chatty"], lines=0, follow=True))
            followers.append(follower)
        requests = request_line("status") * 2000
        for _ in range(60):
            sender = control_connect(self.socket)
            sender.setblocking(False)
            try:
                sender.send(requests)  # as much as the socket takes
            except BlockingIOError:
                pass
            senders.append(sender)
        return followers, senders

    def test_clients_that_never_read_leave_no_lasting_memory(self):
        pid = self.launcher.proc.pid
        control_request(self.socket, "status")  # warm up the paths the clients take
        before = memory_kib(pid)
        followers, senders = self.open_clients()
        self.addCleanup(lambda: [sock.close() for sock in followers + senders])
        # The launcher drops each one: the followers past their bounds, the senders when they
        # have not read a reply within 10 s.
        self.assertEqual(wait_hung_up(followers + senders, 90), 0, "some clients were never dropped")
        peak = memory_kib(pid)["VmHWM"]
        for sock in followers + senders:
            sock.close()
        deadline = time.monotonic() + 30
        after = memory_kib(pid)["VmRSS"]
        while after > before["VmRSS"] + 16 * 1024 and time.monotonic() < deadline:
            time.sleep(0.5)  # the freed memory is given back on the launcher's loop
            after = memory_kib(pid)["VmRSS"]
        grew = (peak - max(before["VmHWM"], before["VmRSS"])) / 1024
        print(f"\nlauncher RSS: {before['VmRSS'] / 1024:.1f} MiB before, peak {peak / 1024:.1f} MiB "
              f"({max(grew, 0):.1f} MiB over the earlier peak) with 124 clients that never read, "
              f"{after / 1024:.1f} MiB after they went", flush=True)
        # Without the bounds: 64 copies of 4 MiB of output, and 60 x 4 MiB of replies.
        self.assertLess(peak - before["VmRSS"], 160 * 1024, "the clients grew the launcher too far")
        self.assertLess(after - before["VmRSS"], 32 * 1024, "the memory did not come back")
        self.assertEqual(control_request(self.socket, "status")["instances"][0]["state"], "Running")
        self.assertEqual(self.launcher.count(r"dropped uid \d+ \(pid \d+\), a follower of chatty that does not "
                                             r"read its output"), 64)


def long_name(i):
    """A name as long as a descriptive real one (the cap is 63): with it, and a deep home, the status
    of an instance is as large as an API-M's (~1 KB), so 5000 of them pass the old 4 MiB bound."""
    return f"si-tooling-editor-{i:04d}-of-the-analytics-team-in-region-west"


class FiveThousandInstancesTest(LauncherTestCase):
    """`status --json` stopped working past ~1900 instances (one reply > the 4 MiB bound)."""

    count = 5000

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        # Cheap instances: never started (autostart false), one tiny home each, their fixed port
        # disabled so that 5000 of them fit side by side.
        yaml = (FIXTURES / "si-tooling-deployment.yaml").read_bytes()
        homes = self.ws.root / "homes" / "shared-by-the-analytics-team" / "wso2-streaming-integrator-tooling"
        for i in range(self.count):
            name = long_name(i)
            home = homes / name
            (home / "bin").mkdir(parents=True)
            (home / "bin" / "tooling.sh").write_text("#!/bin/sh\nexit 0\n")
            (home / "bin" / "tooling.sh").chmod(0o755)
            (home / "conf" / "server").mkdir(parents=True)
            (home / "conf" / "server" / "deployment.yaml").write_bytes(yaml)
            profile = {"name": name, "runtime": "si-tooling", "home": str(home), "autostart": False,
                       "ports": {"store-api-http": {"enabled": False}}}
            (self.ws.profiles / f"{name}.json").write_text(json.dumps(profile))
        self.start_launcher(400, rf"{long_name(self.count - 1)}: si-tooling at offset")

    def cli(self, *args, timeout=120):
        return subprocess.run([LAUNCHER, *args, "--socket", str(self.socket)], capture_output=True, text=True,
                              timeout=timeout)

    def test_status_and_watch_of_5000_instances_are_readable(self):
        started = time.monotonic()
        result = self.cli("status", "--json")
        took = time.monotonic() - started
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        status = json.loads(result.stdout)
        names = [instance["name"] for instance in status["instances"]]
        self.assertEqual(names, [long_name(i) for i in range(self.count)])
        self.assertNotIn("cursor", status)
        self.assertEqual({instance["state"] for instance in status["instances"]}, {"Stopped"})
        wire = len(json.dumps(status, separators=(",", ":")))
        print(f"\nstatus --json of {self.count} instances: {wire / MIB:.1f} MiB of JSON, "
              f"{len(result.stdout) / MIB:.1f} MiB printed, in {took:.2f} s", flush=True)
        self.assertGreater(wire, 4 * MIB, "too small to show anything: one reply of this would have fit")
        # On the wire: pages well within a client's 4 MiB bound, each naming the next.
        first = control_request(self.socket, "status")
        self.assertIn("cursor", first)
        self.assertLess(len(json.dumps(first)), 512 * 1024)
        self.assertEqual(control_request(self.socket, "status", limit=3, cursor=first["cursor"])
                         ["instances"][0]["name"], names[len(first["instances"])])
        table = self.cli("status")
        self.assertEqual(table.returncode, 0, table.stderr[-2000:])
        self.assertEqual(sum(line.startswith("si-tooling-") for line in table.stdout.splitlines()), self.count)
        # watch pages too: wait-ready reads every instance's state, then gives up on them.
        result = self.cli("wait-ready", "--timeout", "1")
        self.assertEqual(result.returncode, 1, result.stdout[-500:] + result.stderr[-2000:])
        self.assertIn(f"not ready: {long_name(0)}, {long_name(1)}", result.stderr)
        self.assertIn(long_name(self.count - 1), result.stderr)


if __name__ == "__main__":
    unittest.main()
