"""systemd's notify protocol end to end: the test owns the NOTIFY_SOCKET (a datagram socket) and
reads what the launcher tells the service manager."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import unittest

from support import LAUNCHER, Workspace, add_sim_instance, kill_leftover_groups, record

RUNTIMES = {"apim-1": "api-manager", "si": "streaming-integrator"}
WATCHDOG_USEC = 400_000  # pings expected every 200 ms


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        for name, runtime in RUNTIMES.items():
            add_sim_instance(self.ws, name, runtime, sim={"start_delay_ms": 800})
        self.notify_path = str(self.ws.root / "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.messages = []  # (monotonic time, message)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, WATCHDOG_USEC=str(WATCHDOG_USEC),
                   CARBON_LAUNCHER_TEST_HOOKS="1")
        env.pop("WATCHDOG_PID", None)
        self.log = open(self.ws.root / "launcher.log", "w")
        self.proc = subprocess.Popen([LAUNCHER, "run", "--profiles", str(self.ws.profiles), "--state-dir",
                                      str(self.ws.state), "--socket", str(self.ws.state / "control.sock")],
                                     env=env, stdout=self.log, stderr=self.log)

    def tearDown(self):
        groups = [r["pgid"] for r in (record(self.ws, n) for n in RUNTIMES) if r]
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        kill_leftover_groups(groups)
        self.log.close()
        self.notify.close()
        self.ws.close()

    def receive_until(self, predicate, timeout):
        """Collects messages until one satisfies `predicate`; returns it."""
        for message in self._read(timeout):
            if predicate(message):
                return message
        raise AssertionError(f"no matching notification within {timeout} s; got {[m for _, m in self.messages]}")

    def _collect(self, seconds):
        for _ in self._read(seconds):
            pass

    def _read(self, seconds):
        """Yields each notification that arrives within `seconds`, recording it with its time."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.notify.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.notify.recv(4096).decode()
            except socket.timeout:
                return
            for message in data.splitlines():
                self.messages.append((time.monotonic(), message))
                yield message

    def pings_between(self, start, end):
        return sum(1 for t, m in self.messages if m == "WATCHDOG=1" and start <= t <= end)

    def test_ready_status_watchdog_and_stopping(self):
        self.receive_until(lambda m: m.startswith("EXTEND_TIMEOUT_USEC="), 10)
        self.receive_until(lambda m: m == "READY=1", 30)
        ready_at = time.monotonic()
        statuses = [m for _, m in self.messages if m.startswith("STATUS=")]
        self.assertIn("STATUS=0/2 ready, apim-1 Starting 0 s", statuses)
        self.assertEqual(statuses[-1], "STATUS=2/2 ready")
        # READY=1 came only after both were ready: the launcher's own status agrees.
        status = json.loads(subprocess.run([LAUNCHER, "status", "--json", "--socket", str(self.ws.state / "control.sock")],
                                           capture_output=True, text=True, timeout=30, check=True).stdout)
        self.assertEqual({i["state"] for i in status["instances"]}, {"Running"})
        self.assertEqual(sum(m == "READY=1" for _, m in self.messages), 1)
        # What systemd gives the launcher's service is not passed on to the instances.
        for name in RUNTIMES:
            environ = pathlib.Path(f"/proc/{record(self.ws, name)['pid']}/environ").read_bytes().split(b"\0")
            self.assertEqual([e for e in environ if e.startswith((b"NOTIFY_SOCKET=", b"WATCHDOG_"))], [], name)

        # Watchdog: about one ping per 200 ms while the loop runs...
        self._collect(2.0)
        pings = self.pings_between(ready_at, ready_at + 2.0)
        self.assertGreaterEqual(pings, 7, self.messages)
        self.assertLessEqual(pings, 12)
        # ...and none while the loop is blocked (test hook: SIGUSR1 blocks it for 2 s).
        self.proc.send_signal(signal.SIGUSR1)
        blocked_at = time.monotonic()
        self._collect(2.5)
        self.assertEqual(self.pings_between(blocked_at + 0.3, blocked_at + 1.8), 0, self.messages[-20:])
        self.assertGreater(self.pings_between(blocked_at + 2.1, blocked_at + 2.5), 0)

        self.proc.send_signal(signal.SIGTERM)
        self.receive_until(lambda m: m == "STOPPING=1", 10)
        self.assertEqual(self.proc.wait(timeout=60), 0)

    def test_reload_is_bracketed_by_reloading_and_ready(self):
        self.receive_until(lambda m: m == "READY=1", 30)
        self.proc.send_signal(signal.SIGHUP)
        self.receive_until(lambda m: m == "RELOADING=1", 10)
        self.receive_until(lambda m: m == "READY=1", 10)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=60), 0)


if __name__ == "__main__":
    unittest.main()
