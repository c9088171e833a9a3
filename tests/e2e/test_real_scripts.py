"""The launcher against simulated homes whose scripts behave like WSO2's real ones (tools/SIMULATION.md).

What the real scripts do that a supervisor must survive: SI and Tooling read
CARBON_HOME/conf/<runtime name>/deployment.yaml, the runtime name coming from RUNTIME_HOME
(HOME/wso2/server by default), and write HOME/wso2/server/runtime.pid; every .sh exits 0 whatever
its JVM did (crash, SIGKILL, a port it could not bind).
"""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

from support import (InstancesTestCase, LAUNCHER, RunningLauncher, Workspace, add_sim_instance, alive, group_members, jvm_pid,
                     kill_leftover_groups, listening_ports_by_pid, pid_from_file, record, wait_until)

SCRIPTS = {"api-manager": "bin/api-manager.sh", "streaming-integrator": "bin/server.sh",
           "si-tooling": "bin/tooling.sh"}


def read_log(ws, name):
    try:
        return (ws.state / "logs" / f"{name}.log").read_text(errors="replace")
    except FileNotFoundError:
        return ""


def take_port(port):
    """A socket bound to 127.0.0.1:port without SO_REUSEADDR and not listening, like the local end
    of an outgoing connection that got the port from the ephemeral range: a JVM's bind fails, and
    nothing accepts connections on it (so readiness probes are not fooled)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    return sock


class RealScriptsTestCase(InstancesTestCase):
    def cli(self, *args, check=True):
        result = subprocess.run([LAUNCHER, *args, "--socket", str(self.ws.state / "control.sock")],
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{args} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result

    def status(self):
        return {i["name"]: i for i in json.loads(self.cli("status", "--json").stdout)["instances"]}

    def wait_jvm(self, name, other_than=None, timeout=20):
        """The JVM pid from the runtime's own pid file once it names a live process."""
        def current():
            pid = self.jvm(name)
            return pid if pid and pid != other_than and alive(pid) else None
        pid = wait_until(current, timeout)
        self.assertTrue(pid, f"{name}: no live JVM in its pid file within {timeout} s")
        return pid


class CarbonFiveLayoutTest(RealScriptsTestCase):
    def test_si_and_tooling_read_the_patched_file_through_the_runtime_name_and_bind_the_planned_ports(self):
        self.add("si", "streaming-integrator", offset=17)
        self.add("tooling", "si-tooling", offset=29)
        code, plan = self.ws.plan_json()
        self.assertEqual(code, 0, plan.get("conflicts"))
        # An inherited RUNTIME_HOME set to the home is what broke SI (issue 11): the launcher must
        # not pass it on.
        launcher = self.launch(env={"RUNTIME_HOME": str(self.homes["si"])})
        for name in ("si", "tooling"):
            launcher.wait_for(rf"{name}: Starting -> Running", 30)

        owners = listening_ports_by_pid()
        for instance in plan["instances"]:
            name = instance["name"]
            home = self.homes[name]
            self.assertNotEqual(instance["offset"], 0, name)
            jvm = self.wait_jvm(name)
            pgid = record(self.ws, name)["pgid"]
            self.assertEqual(os.getpgid(jvm), pgid, f"{name}: the JVM is not in the instance's group")
            for port in instance["ports"]:
                if not port["open_by_default"]:
                    continue
                with self.subTest(instance=name, port=port["port"]):
                    self.assertIn(port["port"], owners, f"{port['port']} ({port['purpose']}) is not listening")
                    self.assertEqual(owners[port["port"]], jvm, f"{port['port']} is not held by {name}'s JVM")
            log = read_log(self.ws, name)
            config = home / "conf" / "server" / "deployment.yaml"
            self.assertIn(f"configuration {config} (runtime 'server'): offset {instance['offset']}", log)
            self.assertNotIn("WARN - no ", log)
            self.assertIn(f"system property wso2.runtime.path={home / 'wso2' / 'server'}\n", log)
            self.assertIn("system property wso2.runtime=server\n", log)
            self.assertTrue((home / "wso2" / "server" / "runtime.pid").is_file(), name)
            self.assertFalse((home / "runtime.pid").exists(), f"{name}: runtime.pid landed in the home")

        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)


class KilledJvmTest(RealScriptsTestCase):
    def test_a_sigkilled_jvm_behind_each_script_is_restarted_and_the_others_are_untouched(self):
        names = {"apim": "api-manager", "si": "streaming-integrator", "tooling": "si-tooling"}
        for name, runtime in names.items():
            self.add(name, runtime)
        launcher = self.launch()
        for name in names:
            launcher.wait_for(rf"{name}: Starting -> Running", 30)
        for victim in names:
            with self.subTest(victim=victim):
                scripts = {name: record(self.ws, name)["pid"] for name in names}
                jvms = {name: self.wait_jvm(name) for name in names}
                mark = len(launcher.lines)
                os.kill(jvms[victim], signal.SIGKILL)
                # The script exits 0 (WSO2's scripts always do), and still the instance comes back.
                launcher.wait_for(rf"{victim}: Running -> \w+", 30, mark)
                launcher.wait_for(rf"{victim}: Starting -> Running", 30, mark)
                self.assertNotEqual(record(self.ws, victim)["pid"], scripts[victim])
                self.wait_jvm(victim, other_than=jvms[victim])
                for name in names:
                    if name != victim:
                        self.assertEqual(record(self.ws, name)["pid"], scripts[name], name)
                        self.assertEqual(self.jvm(name), jvms[name], name)
                        self.assertTrue(alive(jvms[name]), name)
        self.assertEqual(launcher.count(r"Fatal"), 0)
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)


class BindFailureTest(RealScriptsTestCase):
    def test_a_port_taken_before_the_jvm_binds_it_is_a_failed_start_then_fatal_with_the_error_line(self):
        offset = 41
        blocked = 9763 + offset  # HTTP servlet: not the readiness port
        # The JVM opens its ports 1.5 s after it starts, as a real Carbon opens its transports late;
        # in that window the test takes one, after the launcher's own check found it free.
        self.add("apim", "api-manager", sim={"bind_delay_ms": 1500, "start_delay_ms": 1500}, offset=offset,
                 restart={"delay_ms": 1000, "max_delay_ms": 4000, "max_retries": 2})
        self.add("si", "streaming-integrator")
        launcher = self.launch()
        launcher.wait_for(r"si: Starting -> Running", 30)
        si_script = record(self.ws, "si")["pid"]
        mark = 0
        outcomes = []
        for attempt in range(3):  # max_retries 2: three failed starts
            start = launcher.wait_for(r"apim: \w+ -> Starting", 30, mark)
            blocker = take_port(blocked)
            self.assertIsNotNone(blocker, f"port {blocked} is not free")
            self.addCleanup(blocker.close)
            try:
                end = launcher.wait_for(r"apim: Starting -> \w+", 30, start + 1)
            finally:
                blocker.close()  # free again before the launcher's next check
            outcomes.append(launcher.lines[end])
            mark = end + 1
        self.assertTrue(all(re.search(r"Starting -> Backoff", line) for line in outcomes[:2]), outcomes)
        self.assertRegex(outcomes[2], r"Starting -> Fatal", "\n".join(launcher.lines))
        delays = [int(m.group(1)) for m in (re.search(r"apim: Starting -> Backoff .*next start in (\d+) ms", line)
                                            for line in launcher.lines) if m]
        self.assertEqual(len(delays), 2, launcher.lines)
        self.assertGreater(delays[1], delays[0])
        self.assertEqual(launcher.count(r"apim: Starting -> Running"), 0)

        error = f"Failed to bind port {blocked}"
        self.assertEqual(read_log(self.ws, "apim").count(error), 3)
        status = self.status()["apim"]
        self.assertEqual(status["state"], "Fatal")
        self.assertIn("last_output", status, "status --json has no last_output")
        self.assertTrue(any(error in line and "BindException" in line for line in status["last_output"]),
                        status["last_output"])
        self.assertIn(error, self.cli("status").stdout)
        self.assertEqual(record(self.ws, "si")["pid"], si_script)
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)


class CleanStopTest(RealScriptsTestCase):
    def test_stop_through_the_socket_and_sigterm_to_the_launcher_end_in_stopped(self):
        names = {"apim": "api-manager", "si": "streaming-integrator", "tooling": "si-tooling"}
        for name, runtime in names.items():
            self.add(name, runtime)
        launcher = self.launch()
        for name in names:
            launcher.wait_for(rf"{name}: Starting -> Running", 30)
        jvms = {name: self.wait_jvm(name) for name in names}
        for name in ("apim", "tooling"):
            mark = len(launcher.lines)
            self.cli("stop", name, "--wait")
            launcher.wait_for(rf"{name}: Stopping -> Stopped", 30, mark)
            self.assertEqual(self.status()[name]["state"], "Stopped")
            self.assertTrue(wait_until(lambda: not alive(jvms[name]), 10), f"{name}'s JVM outlived the stop")
        mark = len(launcher.lines)
        time.sleep(1.5)  # longer than the restart delay: a stopped instance stays stopped
        restarted = [line for line in launcher.lines[mark:] if re.search(r"(apim|tooling): Stopped -> ", line)]
        self.assertEqual(restarted, [])
        self.assertEqual({n: s["state"] for n, s in self.status().items()},
                         {"apim": "Stopped", "si": "Running", "tooling": "Stopped"})
        mark = len(launcher.lines)
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)
        launcher.wait_for(r"si: Stopping -> Stopped", 1, mark)
        after = launcher.lines[mark:]
        self.assertFalse([line for line in after if re.search(r"-> (Starting|Backoff|Fatal)", line)], after)
        self.assertFalse(alive(jvms["si"]))


class ScriptFidelityTest(unittest.TestCase):
    """The simulated scripts alone (no launcher): what tools/SIMULATION.md says they do."""

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)

    def home(self, name, runtime, sim):
        return add_sim_instance(self.ws, name, runtime, {"start_delay_ms": 100, **sim})

    def start(self, home, runtime, env=None, args=()):
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("CARBON_HOME", "RUNTIME_HOME", "RUNTIME")}
        environment["JAVA_HOME"] = "/usr"
        environment.update(env or {})
        proc = subprocess.Popen([str(home / SCRIPTS[runtime]), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=environment, start_new_session=True)

        def end():
            kill_leftover_groups([proc.pid])  # its own session: group id = its pid
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            proc.stdout.close()
        self.addCleanup(end)
        return proc

    def finish(self, proc, timeout=30):
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out

    def test_every_script_exits_0_when_its_jvm_is_killed(self):
        for runtime, pid_file in (("api-manager", "wso2carbon.pid"), ("streaming-integrator", "wso2/server/runtime.pid"),
                                  ("si-tooling", "wso2/server/runtime.pid")):
            with self.subTest(runtime=runtime):
                home = self.home(runtime, runtime, {"bind_delay_ms": 60000})  # never binds
                proc = self.start(home, runtime)
                jvm = wait_until(lambda: jvm_pid(home, runtime), 20)
                self.assertTrue(jvm, f"no {pid_file}")
                self.assertTrue((home / pid_file).is_file())
                os.kill(jvm, signal.SIGKILL)
                code, out = self.finish(proc)
                self.assertEqual(code, 0, out)

    def test_a_runtime_home_set_to_the_home_loses_the_config_and_moves_the_pid_file(self):
        home = self.home("si-a", "streaming-integrator", {"bind_delay_ms": 60000})
        proc = self.start(home, "streaming-integrator", env={"RUNTIME_HOME": str(home)})
        jvm = wait_until(lambda: pid_from_file(home / "runtime.pid"), 20)
        self.assertTrue(jvm, "runtime.pid is not in the home")
        self.assertFalse((home / "wso2" / "server" / "runtime.pid").exists())
        os.kill(jvm, signal.SIGKILL)
        code, out = self.finish(proc)
        self.assertEqual(code, 0, out)
        self.assertIn(f"WARN - no {home / 'conf' / 'si-a' / 'deployment.yaml'} (runtime 'si-a'); "
                      "using Carbon's defaults: offset 0", out)

    def test_a_bind_failure_prints_the_error_and_the_script_still_exits_0(self):
        home = self.home("apim", "api-manager", {})
        offset = 43
        blocker = take_port(9443 + offset)
        self.assertIsNotNone(blocker)
        self.addCleanup(blocker.close)
        proc = self.start(home, "api-manager", args=[f"-DportOffset={offset}"])
        code, out = self.finish(proc)
        self.assertEqual(code, 0, out)
        self.assertRegex(out, rf"ERROR - Failed to bind port {9443 + offset} .*java\.net\.BindException: "
                              "Address already in use")

    def test_api_manager_wipes_tmp_only_when_it_is_a_folder_and_si_does_not_wipe(self):
        apim = self.home("apim", "api-manager", {"bind_delay_ms": 60000})
        si = self.home("si", "streaming-integrator", {"bind_delay_ms": 60000})
        for home in (apim, si):
            (home / "tmp" / "work").mkdir(parents=True)
            (home / "tmp" / "work" / "file").write_text("x")
        for home, runtime, wiped in ((apim, "api-manager", True), (si, "streaming-integrator", False)):
            proc = self.start(home, runtime)
            jvm = wait_until(lambda: jvm_pid(home, runtime), 20)
            self.assertTrue(jvm, runtime)
            self.assertEqual((home / "tmp" / "work").exists(), not wiped, runtime)
            self.assertTrue((home / "tmp").is_dir())
            os.kill(jvm, signal.SIGKILL)
            self.assertEqual(self.finish(proc)[0], 0)
        # Without a tmp folder the .sh wipes nothing and creates nothing.
        shutil.rmtree(apim / "tmp")
        (apim / "keep").write_text("x")
        old = jvm_pid(apim, "api-manager")
        proc = self.start(apim, "api-manager")
        jvm = wait_until(lambda: jvm_pid(apim, "api-manager") not in (None, old) and jvm_pid(apim, "api-manager"), 20)
        self.assertTrue(jvm)
        self.assertFalse((apim / "tmp").exists())
        self.assertTrue((apim / "keep").exists())
        self.assertTrue((apim / "repository" / "conf" / "deployment.toml").exists())
        os.kill(jvm, signal.SIGKILL)
        self.assertEqual(self.finish(proc)[0], 0)

    def test_the_diagnostics_helper_of_api_manager_lives_beside_the_jvm_and_ends_with_the_script(self):
        home = self.home("apim", "api-manager", {"bind_delay_ms": 60000, "diagnostics": True})
        proc = self.start(home, "api-manager")
        jvm = wait_until(lambda: jvm_pid(home, "api-manager"), 20)
        self.assertTrue(jvm)
        members = wait_until(lambda: [m for m in group_members(proc.pid) if _comm(m[0]) == "sleep"], 10)
        self.assertEqual(len(members), 1, group_members(proc.pid))  # the diagnostics tool
        helper = members[0][0]
        self.assertEqual(int(pathlib.Path(f"/proc/{helper}/stat").read_text().rsplit(")", 1)[1].split()[1]),
                         proc.pid)
        os.kill(jvm, signal.SIGKILL)
        self.assertEqual(self.finish(proc)[0], 0)
        self.assertTrue(wait_until(lambda: not alive(helper), 10), "the EXIT trap did not end the helper")


def _comm(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


if __name__ == "__main__":
    unittest.main()
