"""The control socket and operator CLI end to end: a running launcher, real clients."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from support import (LAUNCHER, RunningLauncher, Workspace, add_sim_instance, alive, control_request,
                     jvm_pid, kill_leftover_groups, listening_ports_by_pid, record)

RUNTIMES = {"apim-1": "api-manager", "apim-2": "api-manager", "si": "streaming-integrator"}


class ControlTestCase(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.homes = {name: add_sim_instance(self.ws, name, runtime) for name, runtime in RUNTIMES.items()}
        self.socket = self.ws.state / "control.sock"
        self.launcher = RunningLauncher(self.ws, ["--socket", str(self.socket)])
        # Registered before any wait: a failed wait still ends the launcher and its instances.
        self.addCleanup(self.end_launcher)
        for name in RUNTIMES:
            self.launcher.wait_for(rf"{name}: Starting -> Running", 30)

    def end_launcher(self):
        groups = [r["pgid"] for r in (record(self.ws, n) for n in RUNTIMES) if r]
        if self.launcher.proc.poll() is None:
            self.launcher.signal(signal.SIGTERM)
            try:
                self.launcher.wait_exit(60)
            except subprocess.TimeoutExpired:
                pass
        self.launcher.kill()
        kill_leftover_groups(groups)

    def cli(self, *args, check=True, timeout=60):
        result = subprocess.run([LAUNCHER, *args, "--socket", str(self.socket)], capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{args} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result

    def status(self):
        return {i["name"]: i for i in json.loads(self.cli("status", "--json").stdout)["instances"]}

    def pids(self):
        return {name: (s["pid"], s["jvm_pid"]) for name, s in self.status().items()}


class StatusTest(ControlTestCase):
    def test_status_json_matches_reality(self):
        status = self.status()
        owners = listening_ports_by_pid()
        for name, instance in status.items():
            self.assertEqual(instance["state"], "Running")
            self.assertTrue(alive(instance["pid"]), name)
            self.assertEqual(instance["jvm_pid"], jvm_pid(self.homes[name], RUNTIMES[name]))
            self.assertEqual(instance["pgid"], record(self.ws, name)["pgid"])
            for port in instance["ports"]:
                self.assertEqual(os.getpgid(owners[port["port"]]), instance["pgid"], f"{name} {port}")
            self.assertTrue(set(instance["ready_ports"]) <= {p["port"] for p in instance["ports"]})
        table = self.cli("status").stdout
        self.assertIn("apim-1", table)
        self.assertIn("Running", table)

    def test_unknown_instance_and_missing_daemon_are_clear_errors(self):
        wrong = self.cli("status", "apim-l", check=False)
        self.assertEqual(wrong.returncode, 64)
        self.assertIn('no instance named "apim-l"; did you mean "apim-1"?', wrong.stderr)
        missing = subprocess.run([LAUNCHER, "status", "--socket", str(self.ws.root / "none.sock")],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(missing.returncode, 69)
        self.assertIn("no launcher is listening on", missing.stderr)
        self.assertIn("carbon-launcher run", missing.stderr)


class CommandsTest(ControlTestCase):
    def test_stop_start_restart_one_leaves_the_others_untouched(self):
        before = self.pids()
        self.cli("stop", "apim-2", "--wait")
        self.assertEqual(self.status()["apim-2"]["state"], "Stopped")
        self.assertFalse(alive(before["apim-2"][0]))
        self.cli("start", "apim-2", "--wait")
        self.cli("restart", "si", "--wait")
        after = self.pids()
        self.assertEqual(after["apim-1"], before["apim-1"])
        self.assertNotEqual(after["apim-2"], before["apim-2"])
        self.assertNotEqual(after["si"], before["si"])
        self.assertEqual(self.status()["si"]["state"], "Running")

    def test_rolling_restart_keeps_all_but_one_ready(self):
        before = self.pids()
        rolling = subprocess.Popen([LAUNCHER, "restart", "--rolling", "--socket", str(self.socket)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = []
        try:
            deadline = time.monotonic() + 60
            while rolling.poll() is None and time.monotonic() < deadline:
                # Straight to the socket: a CLI process per sample (slow under ASan) would miss it.
                states = [s["state"] for s in control_request(self.socket, "status")["instances"]]
                samples.append(sum(state == "Running" for state in states))
        finally:
            out, err = rolling.communicate(timeout=60)
        self.assertEqual(rolling.returncode, 0, out + err)
        self.assertGreater(len(samples), 1)
        self.assertGreaterEqual(min(samples), len(RUNTIMES) - 1, samples)
        self.assertIn(len(RUNTIMES) - 1, samples)  # the sampling did see a restart under way
        after = self.pids()
        for name in RUNTIMES:
            self.assertNotEqual(after[name], before[name], name)

    def test_logs_follow_prints_new_output(self):
        follower = subprocess.Popen([LAUNCHER, "logs", "apim-1", "-f", "-n", "5", "--socket", str(self.socket)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(follower.stdout), daemon=True)
        reader.start()
        try:
            time.sleep(0.5)  # let it print the tail first
            before = len(lines)
            self.cli("restart", "apim-1", "--wait")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any("started in" in l for l in lines[before:]):
                time.sleep(0.1)
        finally:
            os.kill(follower.pid, signal.SIGTERM)
            follower.wait(timeout=10)
        self.assertTrue(any("started in" in line for line in lines[before:]), lines)

    def test_reload_through_the_socket(self):
        result = self.cli("reload")
        self.assertIn("reloaded", result.stdout)


class SecurityAndRobustnessTest(ControlTestCase):
    def test_a_client_running_as_another_user_is_refused(self):
        runuser = shutil.which("runuser") or shutil.which("setpriv")
        if os.geteuid() != 0 or runuser is None:
            self.skipTest("needs root and runuser")
        # Open the file permissions on purpose: SO_PEERCRED must still refuse the peer.
        for path in (self.ws.root, self.ws.state):
            os.chmod(path, 0o755)
        os.chmod(self.socket, 0o666)
        result = subprocess.run(["runuser", "-u", "nobody", "--", LAUNCHER, "status", "--socket", str(self.socket)],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 77, result.stdout + result.stderr)
        self.assertIn("permission denied", result.stderr)
        self.assertIn("members of group", result.stderr)
        self.launcher.wait_for(r"control socket: refused uid \d+ \(pid \d+\): not root and not in group", 10)

    def test_bad_clients_leave_the_daemon_responsive_and_children_untouched(self):
        before = self.pids()
        address = str(self.socket)

        def connect():
            for _ in range(100):  # a full accept queue answers EAGAIN: retry, bounded
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(20)
                try:
                    sock.connect(address)
                    return sock
                except BlockingIOError:
                    sock.close()
                    time.sleep(0.01)
            raise AssertionError("the control socket kept refusing connections")

        def read_line(sock):
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data

        with connect() as bad:
            bad.sendall(b"{this is not json\n")
            self.assertEqual(json.loads(read_line(bad))["error"]["code"], "bad-request")
        with connect() as huge:
            try:
                huge.sendall(b"x" * (10 * 1024 * 1024) + b"\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server hung up on it, as it should
            reply = read_line(huge)
            if reply:
                self.assertEqual(json.loads(reply)["error"]["code"], "request-too-large")
        silent = connect()  # connects and never writes
        clients = [connect() for _ in range(200)]
        started = time.monotonic()
        for client in clients:
            client.sendall(b'{"v":1,"id":1,"cmd":"status"}\n')
        answered = sum(json.loads(read_line(c))["ok"] for c in clients)
        took = time.monotonic() - started
        for client in clients:
            client.close()
        self.assertEqual(answered, 200)
        print(f"\n200 concurrent clients answered in {took * 1000:.0f} ms", flush=True)
        self.assertEqual(self.status()["apim-1"]["state"], "Running")
        self.assertEqual(self.pids(), before)
        self.assertEqual(silent.recv(1, socket.MSG_PEEK), b"", "an idle client should be dropped after 10 s") \
            if self._wait_closed(silent) else self.fail("the silent client was never dropped")
        silent.close()

    @staticmethod
    def _wait_closed(sock):
        sock.settimeout(15)
        try:
            return sock.recv(1) == b""
        except socket.timeout:
            return False


if __name__ == "__main__":
    unittest.main()
