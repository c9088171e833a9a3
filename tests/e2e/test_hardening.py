"""Hostile input end to end (issue 16): bytes that are not UTF-8 on the control socket and in an
instance's output, deep nesting, values that would inject into an exported unit, FIFOs where files
belong, numbers past their range, and a closed stderr. The daemon must answer with an error and
keep supervising; load-time problems must be exit 78 naming the file, the field and the fix."""
import base64
import json
import os
import pathlib
import select
import shutil
import signal
import subprocess
import threading
import time
import unittest

from support import (end_launcher, end_launchers, LAUNCHER, RunningLauncher, Workspace, add_sim_instance, alive, control_request,
                     kill_leftover_groups, record)

LATIN1 = b"caf\xe9 cr\xe8me br\xfbl\xe9e"
SIGPIPE_BIT = 1 << (signal.SIGPIPE - 1)


def nested(open_, close, depth, inner="1"):
    return open_ * depth + inner + close * depth


def deep_profile(home, depth=100_000):
    """A profile whose env holds `depth` nested objects (the issue's crash)."""
    return ('{"name": "deep", "runtime": "api-manager", "home": ' + json.dumps(str(home)) +
            ', "env": {"A": ' + nested('{"x": ', "}", depth) + "}}")


def print_latin1_first(home, runtime_script="bin/api-manager.sh"):
    """Makes a simulated home's start script print Latin-1 bytes before starting the "JVM"."""
    script = home / runtime_script
    lines = script.read_text().split("\n")
    lines.insert(1, r"printf 'caf\351 cr\350me br\373l\351e\n'")
    script.write_text("\n".join(lines))


def ignores_sigpipe(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & SIGPIPE_BIT)
    raise AssertionError(f"no SigIgn in /proc/{pid}/status")


class DaemonTestCase(unittest.TestCase):
    """One simulated API-M instance under a running launcher."""

    latin1 = False

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.home = add_sim_instance(self.ws, "apim-1", "api-manager")
        if self.latin1:
            print_latin1_first(self.home)
        self.socket = self.ws.state / "control.sock"
        self.before_start()
        self.launcher = RunningLauncher(self.ws, ["--socket", str(self.socket)])
        self.addCleanup(self.stop_launcher)  # registered before any wait can fail
        self.launcher.wait_for(r"apim-1: Starting -> Running", 30)

    def before_start(self):
        pass

    def stop_launcher(self):
        end_launcher(self.ws, self.launcher, ["apim-1"])

    def cli(self, *args, check=True, timeout=60, text=True):
        result = subprocess.run([LAUNCHER, *args, "--socket", str(self.socket)], capture_output=True, text=text,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{args} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result

    def state(self):
        status = json.loads(self.cli("status", "--json").stdout)
        return {i["name"]: i["state"] for i in status["instances"]}

    def request(self, raw, timeout=20):
        """Sends one raw line to the control socket and returns the reply, parsed strictly (every
        reply is UTF-8)."""
        return control_request(self.socket, raw=raw, whole_reply=True, timeout=timeout)

    def assert_still_supervising(self):
        self.assertIsNone(self.launcher.proc.poll(), "the launcher exited:\n" + "\n".join(self.launcher.lines[-20:]))
        self.assertEqual(self.state()["apim-1"], "Running")


class ControlRequestTest(DaemonTestCase):
    def test_a_request_that_is_not_utf8_gets_an_error_and_the_daemon_lives(self):
        # The reproduction: printf '\xff\n' to the control socket.
        reply = self.request(b"\xff\n")
        self.assertFalse(reply["ok"])
        self.assertEqual(reply["error"]["code"], "bad-request")
        self.assert_still_supervising()

    def test_other_hostile_requests_get_errors_and_the_daemon_lives(self):
        cases = {
            b'{"v":2,"cmd":"st\xffatus"}\n': "bad-request",
            b'{"v":2,"cmd":"status","id":"\xc3"}\n': "bad-request",
            b'\xc0\xaf{"v":2,"cmd":"status"}\n': "bad-request",
            # 30 000 levels: within the 64 KiB line bound, far past the depth bound.
            ('{"v":2,"cmd":"status","id":' + nested("[", "]", 30_000) + "}\n").encode(): "bad-request",
            b'{"v":2,"cmd":"status","cmd":"stop","names":["apim-1"]}\n': "bad-request",
            b'{"v":2,"cmd":"status","id":1e309}\n': "bad-request",
            b'{"v":4294967297,"cmd":"status"}\n': "bad-version",
            b'{"v":2,"cmd":"logs","names":["apim-1"],"lines":9223372036854775808}\n': "bad-request",
            b'{"v":2,"cmd":"status","names":["\\u0000\\n\xc3\xa9"]}\n': "unknown-instance",
        }
        for raw, code in cases.items():
            with self.subTest(raw=raw[:60]):
                reply = self.request(raw)
                self.assertFalse(reply["ok"])
                self.assertEqual(reply["error"]["code"], code, reply)
        self.assert_still_supervising()
        self.assertEqual(self.launcher.count("apim-1: Running -> Stopping"), 0)  # the duplicate "stop"

    def test_a_deep_id_within_the_bound_is_echoed(self):
        reply = self.request(('{"v":2,"cmd":"status","id":' + nested("[", "]", 50) + "}\n").encode())
        self.assertTrue(reply["ok"])
        self.assertEqual(json.dumps(reply["id"]), json.dumps(json.loads(nested("[", "]", 50))))


class Latin1OutputTest(DaemonTestCase):
    latin1 = True

    def assert_still_answering(self):
        """The launcher is up and answers; what `status` says is test_status_after_latin1_output's."""
        self.assertIsNone(self.launcher.proc.poll(), "the launcher exited:\n" + "\n".join(self.launcher.lines[-20:]))
        reply = self.request(b'{"v":2,"id":1,"cmd":"logs","names":["apim-1"],"lines":1}\n')
        self.assertTrue(reply["ok"], reply)

    def test_status_after_latin1_output(self):
        # The status carries the instance's last output lines: they must not break the reply.
        reply = self.request(b'{"v":2,"id":1,"cmd":"status"}\n')
        self.assertTrue(reply["ok"], reply)
        self.assert_still_supervising()

    def test_logs_n_carries_latin1_output_exactly(self):
        result = self.cli("logs", "apim-1", "-n", "20", text=False)
        self.assertIn(LATIN1 + b"\n", result.stdout)
        # On the wire: "data" is valid UTF-8 (U+FFFD for each bad byte), "data_base64" exact.
        reply = self.request(b'{"v":2,"id":1,"cmd":"logs","names":["apim-1"],"lines":20}\n')
        self.assertTrue(reply["ok"], reply)
        self.assertIn("caf\ufffd cr\ufffdme", reply["result"]["data"])
        self.assertIn(LATIN1, base64.b64decode(reply["result"]["data_base64"]))
        self.assert_still_answering()

    def test_logs_follow_receives_latin1_output_and_the_daemon_lives(self):
        follower = subprocess.Popen([LAUNCHER, "logs", "apim-1", "-f", "-n", "0", "--socket", str(self.socket)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        received = []
        reader = threading.Thread(target=lambda: received.extend(iter(lambda: follower.stdout.read1(65536), b"")),
                                  daemon=True)
        reader.start()
        try:
            time.sleep(0.5)
            self.cli("restart", "apim-1", "--wait")  # the script prints the Latin-1 line again
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and LATIN1 not in b"".join(received):
                time.sleep(0.1)
        finally:
            follower.terminate()
            follower.wait(timeout=10)
            reader.join(timeout=5)
            follower.stdout.close()
            follower.stderr.close()
        self.assertIn(LATIN1, b"".join(received))
        self.assert_still_answering()


class DeepNestingTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)

    def test_a_100000_deep_profile_is_exit_78_from_plan_and_run(self):
        home = self.ws.add_instance("deep", "api-manager")
        (self.ws.profiles / "deep.json").write_text(deep_profile(home))
        result = self.ws.launcher("plan")
        self.assertEqual(result.returncode, 78, result.stderr)
        self.assertIn("deep.json: /env/A/x/x", result.stderr)
        self.assertIn("nested more than 64 levels", result.stderr)
        run = subprocess.run([LAUNCHER, "run", "--profiles", str(self.ws.profiles), "--state-dir", str(self.ws.state),
                              "--socket", str(self.ws.state / "c.sock")], capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 78, run.stderr)
        self.assertIn("nested more than 64 levels", run.stderr)

    def test_deep_arrays_in_args_and_a_deep_offsets_json(self):
        home = self.ws.add_instance("a", "api-manager")
        (self.ws.profiles / "a.json").write_text(
            '{"name": "a", "runtime": "api-manager", "home": ' + json.dumps(str(home)) + ', "args": ' +
            nested("[", "]", 100_000) + "}")
        result = self.ws.launcher("plan")
        self.assertEqual(result.returncode, 78, result.stderr)
        self.assertIn("a.json: /args/0/0/0", result.stderr)
        (self.ws.profiles / "a.json").write_text(json.dumps({"name": "a", "runtime": "api-manager",
                                                             "home": str(home)}))
        (self.ws.state / "offsets.json").write_text('{"version": 1, "offsets": {"a": ' +
                                                    nested("[", "]", 100_000) + "}}")
        result = self.ws.launcher("plan")
        self.assertEqual(result.returncode, 78, result.stderr)
        self.assertIn("offsets.json: /offsets/a/0", result.stderr)
        self.assertIn("delete the file", result.stderr)


class DeepProfileReloadTest(DaemonTestCase):
    def test_reload_with_a_deep_profile_reports_it_and_keeps_running(self):
        (self.ws.profiles / "deep.json").write_text(deep_profile(self.home))
        result = self.cli("reload", check=False)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("the running configuration stays", result.stdout)
        self.assertIn("nested more than 64 levels", result.stdout)
        self.assert_still_supervising()
        self.launcher.signal(signal.SIGHUP)  # the same through a signal
        self.launcher.wait_for(r"reload failed, keeping the running configuration: .*nested more than 64", 20)
        self.assert_still_supervising()
        (self.ws.profiles / "deep.json").unlink()
        self.assertIn("reloaded", self.cli("reload").stdout)


class ValidationTest(unittest.TestCase):
    """Numbers, duplicate keys, scripts outside the home and control characters: exit 78, naming
    the file and the field."""

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.home = self.ws.add_instance("a", "api-manager")

    def plan_with(self, text):
        (self.ws.profiles / "a.json").write_text(text)
        return self.ws.launcher("plan")

    def profile(self, **fields):
        return json.dumps({"name": "a", "runtime": "api-manager", "home": str(self.home), **fields})

    def assert_78(self, result, *phrases):
        self.assertEqual(result.returncode, 78, result.stdout + result.stderr)
        for phrase in phrases:
            self.assertIn(phrase, result.stderr)

    def test_offset_1e309_is_78_not_70(self):
        text = self.profile()[:-1] + ', "offset": 1e309}'
        self.assert_78(self.plan_with(text), "a.json: /offset:", "1e309", "use a number within range")

    def test_offset_2_to_the_63_is_reported_as_it_is(self):
        self.assert_78(self.plan_with(self.profile(offset=2**63)), "a.json: /offset: 9223372036854775808 is out of range")
        self.assert_78(self.plan_with(self.profile(stop_timeout_s=2**64 - 1)),
                       "/stop_timeout_s: 18446744073709551615 is out of range")

    def test_a_script_outside_the_home_is_78(self):
        for script in ("/bin/sh", "../../bin/sh", "bin/../../../bin/sh"):
            with self.subTest(script=script):
                self.assert_78(self.plan_with(self.profile(script=script)), "a.json: /script:",
                               "is not inside the home", "relative to the home")

    def test_duplicate_keys_are_78_naming_the_key(self):
        text = self.profile()[:-1] + ', "offset": 1, "offset": 2}'
        self.assert_78(self.plan_with(text), 'a.json: /offset: "offset" appears twice', "remove one")
        text = self.profile()[:-1] + ', "env": {"JAVA_OPTS": "-Xmx1g", "JAVA_OPTS": "-Xmx2g"}}'
        self.assert_78(self.plan_with(text), "a.json: /env/JAVA_OPTS:", "appears twice")

    def test_control_characters_are_78(self):
        cases = [({"env": {"JAVA_OPTS": "a\0b"}}, "/env/JAVA_OPTS: the value holds a NUL byte"),
                 ({"env": {"X": "1\nExecStartPre=/bin/touch /tmp/pwned"}}, "/env/X: the value holds a line break"),
                 ({"env": {"X": "a\rb"}}, "/env/X: the value holds a carriage return"),
                 ({"env": {"BAD\nNAME": "x"}}, "is not a portable environment variable name; use letters"),
                 ({"args": ["-Dx=\x1b[31m"]}, "/args/0: the argument holds the control character U+001B"),
                 ({"user": "root\nExecStartPre=/bin/sh"}, "/user: the user name holds a line break"),
                 ({"java_home": "/usr\n"}, "/java_home: the path holds a line break")]
        for fields, phrase in cases:
            with self.subTest(fields=fields):
                result = self.plan_with(self.profile(**fields))
                self.assert_78(result, "a.json: ", phrase)
                self.assertRegex(result.stderr, r"remove it|use letters, digits and '_'")  # the fix


class ExportSystemdTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.out = self.ws.root / "units"

    def export(self):
        return subprocess.run([LAUNCHER, "export", "systemd", "--profiles", str(self.ws.profiles), "--state-dir",
                               str(self.ws.state), "--out", str(self.out)],
                              capture_output=True, text=True, timeout=60)

    def test_a_newline_in_env_cannot_add_a_directive(self):
        # The reproduction: ExecStartPre= smuggled in through an env value.
        self.ws.add_instance("apim-1", "api-manager", env={"JAVA_OPTS": "-Xmx1g\nExecStartPre=/bin/touch /tmp/pwned"})
        result = self.export()
        self.assertEqual(result.returncode, 78, result.stdout + result.stderr)
        self.assertIn("apim-1.json: /env/JAVA_OPTS: the value holds a line break", result.stderr)
        self.assertFalse((self.out / "carbon-apim-1.service").exists())

    def test_dollar_percent_quotes_and_backslashes_are_escaped(self):
        self.ws.add_instance("apim-1", "api-manager", env={"JAVA_OPTS": '-Da=$HOME -Db=100% -Dc="q" -Dd=\\'},
                             args=["-Dx=$USER", "-Dy=%n", "-Dz=${PATH}"])
        result = self.export()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        unit = (self.out / "carbon-apim-1.service").read_text()
        lines = unit.splitlines()
        exec_start = [l for l in lines if l.startswith("ExecStart=")]
        self.assertEqual(len(exec_start), 1, unit)
        self.assertIn('"-Dx=$$USER" "-Dy=%%n" "-Dz=$${PATH}"', exec_start[0])
        self.assertIn('Environment="JAVA_OPTS=-Da=$HOME -Db=100%% -Dc=\\"q\\" -Dd=\\\\"', lines)
        self.assertFalse([l for l in lines if l.startswith("ExecStartPre")])
        if shutil.which("systemd-analyze"):  # systemd itself accepts every escape
            verify = subprocess.run(["systemd-analyze", "verify", str(self.out / "carbon-apim-1.service")],
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)


class NotAFileTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)

    def test_a_fifo_at_offsets_json_is_a_clear_error_not_a_hang(self):
        self.ws.add_instance("a", "api-manager")
        os.mkfifo(self.ws.state / "offsets.json")
        started = time.monotonic()
        result = self.ws.launcher("plan")  # times out (60 s) if open() waits for a writer
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(result.returncode, 78, result.stderr)
        self.assertIn("offsets.json: is a FIFO, expected a regular file", result.stderr)


class FifoRecordTest(DaemonTestCase):
    def before_start(self):
        (self.ws.state / "instances").mkdir(parents=True, exist_ok=True)
        os.mkfifo(self.ws.state / "instances" / "apim-1.json")

    def test_a_fifo_at_the_instance_record_does_not_hang_the_start(self):
        # setUp saw the instance reach Running: the launcher got past the record.
        self.assert_still_supervising()
        self.assertIsNotNone(record(self.ws, "apim-1"))  # replaced by a real record


class FifoLogTest(DaemonTestCase):
    def before_start(self):
        (self.ws.state / "logs").mkdir(parents=True, exist_ok=True)
        os.mkfifo(self.ws.state / "logs" / "apim-1.log")

    def test_a_fifo_at_the_log_path_is_reported_and_supervision_goes_on(self):
        self.launcher.wait_for(r"apim-1\.log is a FIFO, not a log file", 10)
        logs = self.cli("logs", "apim-1", check=False)
        self.assertNotEqual(logs.returncode, 0)
        self.assertIn("is not a regular file", logs.stderr)
        self.assert_still_supervising()
        self.cli("restart", "apim-1", "--wait")
        self.assert_still_supervising()


class ClosedStderrTest(unittest.TestCase):
    """`carbon-launcher run 2>&1 | tee log` whose reader goes away (issue 16, item 10)."""

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        add_sim_instance(self.ws, "apim-1", "api-manager")
        self.socket = self.ws.state / "control.sock"

    def cli(self, *args):
        result = subprocess.run([LAUNCHER, *args, "--socket", str(self.socket)], capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 0, f"{args}: {result.stdout}{result.stderr}")
        return result

    def test_the_launcher_survives_its_log_reader_going_away(self):
        read_end, write_end = os.pipe()
        proc = subprocess.Popen([LAUNCHER, "run", "--profiles", str(self.ws.profiles), "--state-dir",
                                 str(self.ws.state), "--socket", str(self.socket)],
                                stdout=write_end, stderr=write_end)
        os.close(write_end)

        def cleanup():
            groups = [r["pgid"] for r in [record(self.ws, "apim-1")] if r]
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            kill_leftover_groups(groups)
        self.addCleanup(cleanup)
        seen = b""
        deadline = time.monotonic() + 30
        while b"apim-1: Starting -> Running" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([read_end], [], [], 1.0)
            if ready:
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                seen += chunk
        os.close(read_end)  # the reader goes away: every later log line meets EPIPE
        self.assertIn(b"apim-1: Starting -> Running", seen)
        status = json.loads(self.cli("status", "--json").stdout)["instances"][0]
        self.cli("stop", "apim-1", "--wait")  # log lines: the command and each state change
        self.assertIsNone(proc.poll(), f"the launcher died with {proc.returncode}")
        self.assertFalse(alive(status["pid"]))
        self.cli("start", "apim-1", "--wait")
        self.assertIsNone(proc.poll(), f"the launcher died with {proc.returncode}")
        restarted = json.loads(self.cli("status", "--json").stdout)["instances"][0]
        self.assertEqual(restarted["state"], "Running")
        # The instance itself keeps the default SIGPIPE: ignoring it in the launcher must not
        # be inherited through exec by the start script and the JVM.
        for pid in (restarted["pid"], restarted["jvm_pid"]):
            self.assertFalse(ignores_sigpipe(pid), pid)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0)


if __name__ == "__main__":
    unittest.main()


class StaleRecordTest(unittest.TestCase):
    """Item 3: an instance record whose process group now belongs to someone else (pid reuse, a
    reboot with a persistent state dir) must never get that group signalled."""

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.home = add_sim_instance(self.ws, "apim-1", "api-manager")
        self.launchers = []
        self.addCleanup(self.end_launchers)

    def end_launchers(self):
        end_launchers(self.ws, self.launchers, ["apim-1"])

    def stranger(self):
        """A process group of its own that has nothing to do with the launcher."""
        proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
        self.addCleanup(lambda: (proc.kill(), proc.wait()))
        return proc

    def write_record(self, **fields):
        records = self.ws.state / "instances"
        records.mkdir(parents=True, exist_ok=True)
        content = {"name": "apim-1", "pid": 0, "pgid": 0, "start_time": 1, "offset": 0,
                   "home": str(self.home), "launcher_pid": 1, **fields}
        (records / "apim-1.json").write_text(json.dumps(content))

    def run_until_running(self):
        launcher = RunningLauncher(self.ws)
        self.launchers.append(launcher)
        launcher.wait_for(r"apim-1: Starting -> Running", 60)
        return launcher

    def test_a_group_leader_with_another_start_time_is_not_signalled(self):
        stranger = self.stranger()
        # The record's pid and group are the stranger's numbers, as after pid reuse.
        self.write_record(pid=stranger.pid, pgid=stranger.pid, start_time=1)
        launcher = self.run_until_running()
        launcher.wait_for(r"which is not its own any more \(its process group id now belongs to a newer process\)", 5)
        self.assertIsNone(stranger.poll(), "the stranger's group was signalled")
        self.assertEqual(launcher.count("left it running"), 0)

    def test_a_leaderless_group_whose_members_do_not_name_the_home_is_not_signalled(self):
        leader = subprocess.Popen(["sh", "-c", "sleep 300 & echo $!; exec sleep 0"], start_new_session=True,
                                  stdout=subprocess.PIPE, text=True)
        member = int(leader.stdout.readline())
        leader.stdout.close()
        leader.wait()
        self.addCleanup(lambda: alive(member) and os.kill(member, signal.SIGKILL))
        self.write_record(pid=leader.pid, pgid=leader.pid, start_time=1)
        launcher = self.run_until_running()
        launcher.wait_for(r"which is not its own any more \(no process of its group names its home\)", 5)
        self.assertTrue(alive(member), "a member of a stranger's group was signalled")

    def test_a_record_written_before_the_last_boot_is_not_acted_on(self):
        stranger = self.stranger()
        self.write_record(pid=stranger.pid, pgid=stranger.pid, start_time=1)
        boot = next(int(line.split()[1]) for line in pathlib.Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        record_file = self.ws.state / "instances" / "apim-1.json"
        os.utime(record_file, (boot - 3600, boot - 3600))
        launcher = self.run_until_running()
        launcher.wait_for(r"which is not its own any more \(written before the last boot\)", 5)
        self.assertIsNone(stranger.poll())
