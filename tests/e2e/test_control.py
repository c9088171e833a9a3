"""The control socket and operator CLI end to end: a running launcher, real clients."""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from support import (end_launcher, LAUNCHER, RunningLauncher, Workspace, add_sim_instance, alive, control_connect,
                     control_request, jvm_pid, kill_leftover_groups, listening_ports_by_pid, read_line,
                     read_reply, record, request_line)

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
        end_launcher(self.ws, self.launcher, RUNTIMES)

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

    def test_status_says_what_an_instance_due_to_start_waits_for(self):
        self.cli("stop", "apim-1", "--wait")
        add_sim_instance(self.ws, "apim-3", "api-manager", after=["apim-1"])
        self.assertIn("started apim-3", self.cli("reload").stdout)
        status = self.status()
        self.assertEqual(status["apim-3"]["state"], "Stopped")
        self.assertEqual(status["apim-3"]["waiting_for"], "apim-1 (Stopped)")
        self.assertEqual(status["apim-2"]["waiting_for"], "")
        self.assertRegex(self.cli("status").stdout, r"apim-3 +Stopped .* waiting for apim-1 \(Stopped\)")
        waited = self.cli("wait-ready", "apim-3", "--timeout", "1", check=False)
        self.assertEqual(waited.returncode, 1)
        self.assertIn("not ready: apim-3 (Stopped, waiting for apim-1 (Stopped))", waited.stderr)
        self.cli("start", "apim-1", "--wait")
        self.launcher.wait_for(r"apim-3: Starting -> Running", 30)
        self.assertEqual(self.status()["apim-3"]["waiting_for"], "")
        self.cli("stop", "apim-3", "--wait")  # its group is not among the ones the cleanup knows


class SecurityAndRobustnessTest(ControlTestCase):
    def test_a_client_running_as_another_user_is_refused(self):
        runuser = shutil.which("runuser") or shutil.which("setpriv")
        if os.geteuid() != 0 or runuser is None:
            self.skipTest("needs root and runuser")
        # Open the file permissions on purpose: SO_PEERCRED must still refuse the peer.
        for path in (self.ws.root, self.ws.state):
            os.chmod(path, 0o755)
        os.chmod(self.socket, 0o666)
        # A copy nobody can execute: a checkout under /root (mode 0700) is out of its reach.
        client = self.ws.root / "carbon-launcher-client"
        shutil.copy2(LAUNCHER, client)
        os.chmod(client, 0o755)
        result = subprocess.run(["runuser", "-u", "nobody", "--", str(client), "status", "--socket", str(self.socket)],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 77, result.stdout + result.stderr)
        self.assertIn("permission denied", result.stderr)
        self.assertIn("members of group", result.stderr)
        self.launcher.wait_for(r"control socket: refused uid \d+ \(pid \d+\): not root and not in group", 10)

    def test_bad_clients_leave_the_daemon_responsive_and_children_untouched(self):
        before = self.pids()

        def connect():
            return control_connect(self.socket)

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
        # Nearly as many as one user may hold at once (the per-user cap is 128).
        clients = [connect() for _ in range(120)]
        started = time.monotonic()
        for client in clients:
            client.sendall(request_line("status"))
        answered = sum(read_reply(c)["ok"] for c in clients)
        took = time.monotonic() - started
        for client in clients:
            client.close()
        self.assertEqual(answered, 120)
        print(f"\n120 concurrent clients answered in {took * 1000:.0f} ms", flush=True)
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


class WatcherCapTest(ControlTestCase):
    """Issue 16, item 5: 256 `watch` clients (exempt from the idle timeout) took every slot and
    every other client got `busy`."""

    def test_256_watchers_leave_status_and_commands_working(self):
        clients = []
        self.addCleanup(lambda: [client.close() for client in clients])
        for _ in range(256):
            client = control_connect(self.socket)
            clients.append(client)
            try:
                client.sendall(request_line("watch"))
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused at once: the reason is still there to read
        replies = [read_reply(client) for client in clients]
        watchers = [client for client, reply in zip(clients, replies) if reply["ok"]]
        refusals = [reply["error"] for reply in replies if not reply["ok"]]
        # The watchers hold their slots; status and commands still get through.
        self.assertEqual(set(self.status()), set(RUNTIMES))
        self.assertEqual(control_request(self.socket, "restart", ["si"]), {"accepted": ["si"]})
        event = read_reply(watchers[0])  # and the watchers are served
        self.assertEqual(event.get("event"), "state", event)
        self.assertEqual(len(watchers), 64, "one user's watchers are capped at 64")
        self.assertEqual({error["code"] for error in refusals}, {"busy"})
        messages = "\n".join(error["message"] for error in refusals)
        self.assertIn("uid 0 already has 64 clients that watch or follow logs, the per-user cap", messages)
        self.assertIn("logs -f", messages)  # the fix: which clients to end


IDLE_CLIENTS = r"""
import json, selectors, socket, sys, time
path, count, expected_busy = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
clients = []
for _ in range(count):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    clients.append(client)
selector = selectors.DefaultSelector()
for client in clients:
    selector.register(client, selectors.EVENT_READ)
busy, messages = set(), []
deadline = time.monotonic() + 5  # well within the idle clients' 10 s
while len(busy) < expected_busy and time.monotonic() < deadline:
    for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
        selector.unregister(key.fileobj)
        data = key.fileobj.recv(65536)
        if data:
            busy.add(key.fileobj)
            messages.append(json.loads(data.split(b"\n")[0])["error"]["message"])
print(json.dumps({"busy": len(busy), "message": messages[:1]}), flush=True)
sys.stdin.readline()  # the test runs its status meanwhile
idle = [client for client in clients if client not in busy]
ready = selectors.DefaultSelector()
for client in idle:
    ready.register(client, selectors.EVENT_READ)
hung_up = len(ready.select(timeout=0))
print(json.dumps({"idle": len(idle), "hung_up": hung_up}), flush=True)
"""


class OtherUserCapTest(unittest.TestCase):
    """Issue 16, item 5: 500 idle clients locked every other client out. Here they belong to
    another user (nobody, a member of the control group): that user gets 128 slots, no more."""

    def setUp(self):
        python = "/usr/bin/python3"
        if os.geteuid() != 0 or shutil.which("setpriv") is None or not os.access(python, os.X_OK):
            self.skipTest("needs root, setpriv and /usr/bin/python3")
        self.nobody = pwd.getpwnam("nobody")
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        add_sim_instance(self.ws, "apim-1", "api-manager")
        # A checkout or temp dir under /root (0700) is out of nobody's reach: open the way to
        # the socket only. The socket itself is 0660, group nogroup.
        os.chmod(self.ws.root, 0o711)
        os.chmod(self.ws.state, 0o711)
        self.socket = self.ws.state / "control.sock"
        group = grp.getgrgid(self.nobody.pw_gid).gr_name
        self.launcher = RunningLauncher(self.ws, ["--socket", str(self.socket), "--socket-group", group])
        self.addCleanup(self.end_launcher)
        self.launcher.wait_for(r"apim-1: Starting -> Running", 30)

    def end_launcher(self):
        end_launcher(self.ws, self.launcher, ["apim-1"])

    def test_300_idle_clients_of_one_user_leave_room_for_the_others(self):
        count, cap = 300, 128
        # setpriv execs: the clients' process is the one started here, and ended by its pid.
        clients = subprocess.Popen(["setpriv", f"--reuid={self.nobody.pw_uid}", f"--regid={self.nobody.pw_gid}",
                                    "--clear-groups", "/usr/bin/python3", "-c", IDLE_CLIENTS,
                                    str(self.socket), str(count), str(count - cap)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def end_clients():
            if clients.poll() is None:
                clients.kill()
            clients.communicate(timeout=30)
        self.addCleanup(end_clients)
        line = clients.stdout.readline()  # the script's own deadline bounds the wait
        if not line:
            self.fail(f"the idle clients failed: {clients.communicate(timeout=30)[1]}")
        first = json.loads(line)
        # Root, another user, is served while nobody's idle clients hold their slots.
        status = subprocess.run([LAUNCHER, "status", "--json", "--socket", str(self.socket)],
                                capture_output=True, text=True, timeout=60)
        clients.stdin.write("\n")
        clients.stdin.flush()
        second = json.loads(clients.stdout.readline() or "{}")
        self.assertEqual(status.returncode, 0, status.stdout + status.stderr)
        self.assertEqual(json.loads(status.stdout)["instances"][0]["state"], "Running")
        self.assertEqual(first.get("busy"), count - cap, first)
        self.assertIn(f"uid {self.nobody.pw_uid} already holds 128 connections, the per-user cap",
                      first["message"][0])
        # Else the idle clients had timed out (10 s) before status ran, and proved nothing.
        self.assertEqual(second, {"idle": cap, "hung_up": 0})
        self.launcher.wait_for(rf"control socket: busy: refused uid {self.nobody.pw_uid} \(pid \d+\)", 10)


if __name__ == "__main__":
    unittest.main()
