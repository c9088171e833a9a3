"""`carbon-launcher run` end to end: simulated runtimes as real processes, real sockets on 127.0.0.1."""
import json
import os
import re
import signal
import socket
import time
import unittest

from support import (InstancesTestCase, RunningLauncher, Workspace, add_sim_instance, alive, group_members, jvm_pid,
                     kill_leftover_groups, listening_ports_by_pid, record)

RUNTIMES = {"apim-1": "api-manager", "apim-2": "api-manager", "apim-3": "api-manager",
            "si": "streaming-integrator", "tooling": "si-tooling"}


def port_free(port):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class RunTestCase(InstancesTestCase):
    def add(self, name, runtime=None, sim=None, **fields):
        return super().add(name, runtime or RUNTIMES.get(name), sim, **fields)

    def wait_running(self, launcher, names, start=0, timeout=30):
        return {name: launcher.wait_for(rf"{name}: Starting -> Running", timeout, start) for name in names}


class FiveInstancesTest(RunTestCase):
    def setUp(self):
        super().setUp()
        for name in RUNTIMES:
            self.add(name)

    def test_all_reach_running_on_the_planned_ports_and_a_killed_jvm_comes_back(self):
        code, plan = self.ws.plan_json()
        self.assertEqual(code, 0, plan["conflicts"])
        launcher = self.launch()
        self.wait_running(launcher, RUNTIMES)
        offsets = [i["offset"] for i in plan["instances"]]
        self.assertEqual(len(set(offsets)), 5)

        owners = listening_ports_by_pid()
        for instance in plan["instances"]:
            pgid = record(self.ws, instance["name"])["pgid"]
            for port in instance["ports"]:
                if not port["open_by_default"]:
                    continue
                with self.subTest(instance=instance["name"], port=port["port"]):
                    self.assertIn(port["port"], owners, f"{port['port']} ({port['purpose']}) is not listening")
                    self.assertEqual(os.getpgid(owners[port["port"]]), pgid)

        scripts = {name: record(self.ws, name)["pid"] for name in RUNTIMES}
        jvms = {name: self.jvm(name) for name in RUNTIMES}
        mark = len(launcher.lines)
        os.kill(jvms["apim-2"], signal.SIGKILL)
        # api-manager.sh exits 0 whatever the JVM did (DOMAIN.md §3): the launcher must still
        # count the JVM's end as a crash, and say which JVM ended.
        launcher.wait_for(r"apim-2: Running -> Backoff \(the JVM \(pid \d+\) ended; api-manager.sh "
                          r"exited 0 \(WSO2's scripts always do\)", 30, mark)
        launcher.wait_for(r"apim-2: Starting -> Running", 30, mark)
        self.assertNotEqual(self.jvm("apim-2"), jvms["apim-2"])
        for name in RUNTIMES:
            if name != "apim-2":
                self.assertEqual(record(self.ws, name)["pid"], scripts[name], name)
                self.assertEqual(self.jvm(name), jvms[name], name)

        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)
        for name in RUNTIMES:
            self.assertIsNone(record(self.ws, name), f"{name}'s record outlived its process group")
        for port in (p["port"] for i in plan["instances"] for p in i["ports"] if p["open_by_default"]):
            self.assertTrue(port_free(port), f"port {port} still bound after the stop")


class FailureTest(RunTestCase):
    def test_a_crash_loop_backs_off_with_growing_delays_then_gives_up(self):
        self.add("apim-1")
        self.add("si")
        self.add("apim-2", sim={"crash_after_ms": 50},
                 restart={"delay_ms": 200, "max_delay_ms": 5000, "max_retries": 3})
        launcher = self.launch()
        self.wait_running(launcher, ["apim-1", "si"])
        steady = {name: record(self.ws, name)["pid"] for name in ("apim-1", "si")}
        launcher.wait_for(r"apim-2: \w+ -> Fatal \(gave up: 4 failures in a row; last: the JVM "
                          r"\(pid \d+\) ended; api-manager.sh exited 0", 60)
        delays = [int(m.group(1)) for m in (re.search(r"apim-2: \w+ -> Backoff .*next start in (\d+) ms", line)
                                            for line in launcher.lines) if m]
        self.assertEqual(len(delays), 3, launcher.lines)
        for before, after in zip(delays, delays[1:]):
            self.assertGreater(after, before * 1.5, delays)
        for name, pid in steady.items():
            self.assertEqual(record(self.ws, name)["pid"], pid)
            self.assertTrue(alive(pid))
        self.assertEqual(launcher.count(r"(apim-1|si): Running -> "), 0)
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)

    def test_sigterm_stops_every_group_and_kills_one_that_ignores_it(self):
        self.add("apim-1")
        self.add("si", sim={"ignore_sigterm": True}, stop_timeout_s=2)
        self.add("tooling", sim={"grandchild": True})
        launcher = self.launch()
        self.wait_running(launcher, ["apim-1", "si", "tooling"])
        pgids = {name: record(self.ws, name)["pgid"] for name in ("apim-1", "si", "tooling")}
        self.assertGreaterEqual(len(group_members(pgids["tooling"])), 3)  # sh, sim, its grandchild
        started = time.monotonic()
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)
        took = time.monotonic() - started
        launcher.wait_for(r"si: still running 2 s after SIGTERM to process group \d+: SIGKILL to process group", 1)
        self.assertGreaterEqual(took, 2.0)
        for name, pgid in pgids.items():
            self.assertEqual(group_members(pgid), [], f"{name}: processes of its group remain (zombies included)")


class CrashedLauncherTest(RunTestCase):
    def test_a_new_launcher_after_sigkill_converges_without_duplicates(self):
        for name in ("apim-1", "apim-2", "si"):
            self.add(name)
        first = self.launch()
        self.wait_running(first, ["apim-1", "apim-2", "si"])
        old_groups = {name: record(self.ws, name)["pgid"] for name in ("apim-1", "apim-2", "si")}
        first.proc.send_signal(signal.SIGKILL)
        first.wait_exit()
        for pgid in old_groups.values():
            self.assertNotEqual(group_members(pgid), [], "instances should outlive a killed launcher")
        second = self.launch()
        second.wait_for(r"apim-1: an earlier launcher \(pid \d+\) left it running", 30)
        self.wait_running(second, ["apim-1", "apim-2", "si"])
        for name, pgid in old_groups.items():
            # The old launcher's children were reparented to PID 1, which reaps them (or, in a
            # sandbox whose PID 1 does not reap, leaves zombies that hold nothing).
            live = [m for m in group_members(pgid) if m[1] != "Z"]
            self.assertEqual(live, [], f"{name}: the old group is still alive")
        self.assertEqual(second.count("port-conflict"), 0)
        for name, home in self.homes.items():
            sims = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, str(home))]
            # API-M: api-manager.sh and its JVM; SI: server.sh, wso2/server/bin/carbon.sh, JVM.
            expected = 3 if name == "si" else 2
            self.assertEqual(len(sims), expected, f"{name}: one script chain and one JVM, found {sims}")
        second.signal(signal.SIGTERM)
        self.assertEqual(second.wait_exit(), 0)

    def test_a_leftover_that_ignores_sigterm_is_killed_after_its_own_stop_timeout(self):
        self.add("apim-1", sim={"ignore_sigterm": True}, stop_timeout_s=2)
        self.add("apim-2", stop_timeout_s=120)  # stops at once on SIGTERM; must not set the pace
        first = self.launch()
        self.wait_running(first, ["apim-1", "apim-2"])
        first.proc.send_signal(signal.SIGKILL)
        first.wait_exit()
        second = self.launch()
        # Before: every leftover waited for the longest stop timeout, and at least 60 s.
        second.wait_for(r"apim-1: still running 2 s after SIGTERM: SIGKILL to (cgroup|process group)", 20)
        self.wait_running(second, ["apim-1", "apim-2"], timeout=30)
        # apim-2 was gone after its SIGTERM: it is neither reported nor signalled again.
        self.assertEqual(second.count(r"apim-2: still running"), 0)
        second.signal(signal.SIGTERM)
        self.assertEqual(second.wait_exit(), 0)

    def test_a_second_launcher_on_the_same_state_dir_is_refused(self):
        self.add("apim-1")
        first = self.launch()
        self.wait_running(first, ["apim-1"])
        second = self.launch()
        self.assertEqual(second.wait_exit(), 69)
        self.assertIn(f"another carbon-launcher (pid {first.proc.pid}) already runs", "\n".join(second.lines))
        first.signal(signal.SIGTERM)
        self.assertEqual(first.wait_exit(), 0)


def _cmdline_has(pid, text):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return text.encode() in f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False


class LifecycleTest(RunTestCase):
    def test_exit_121_restarts_without_counting_a_failure(self):
        home = self.add("apim-1", sim={"exit_121_after_ms": 100}, restart={"max_retries": 0})
        # A script that execs the JVM, so the launcher itself sees exit code 121.
        (home / "bin" / "exec-jvm.sh").write_text(
            (home / "bin" / "api-manager.sh").read_text().replace('    "', '    exec "', 1))
        (home / "bin" / "exec-jvm.sh").chmod(0o755)
        profile = json.loads((self.ws.profiles / "apim-1.json").read_text())
        profile["script"] = "bin/exec-jvm.sh"
        (self.ws.profiles / "apim-1.json").write_text(json.dumps(profile))
        self.add("si", sim={"exit_121_after_ms": 100})  # the usual script restarts it itself
        launcher = self.launch()
        self.wait_running(launcher, ["si"])
        first = launcher.wait_for(r"apim-1: exit code 121 is a restart request", 30)
        launcher.wait_for(r"apim-1: Starting -> Running", 30, first)
        # The second run's output lands in the log too (a late EOF of the first run's pipe once
        # closed the second's).
        log = self.ws.state / "logs" / "apim-1.log"
        for _ in range(100):  # up to 10 s
            if log.read_text().count("carbon-sim: api-manager pid") == 2:
                break
            time.sleep(0.1)
        self.assertEqual(log.read_text().count("carbon-sim: api-manager pid"), 2)
        self.assertEqual(launcher.count("Backoff"), 0)
        self.assertEqual(launcher.count("Fatal"), 0)
        si_script = record(self.ws, "si")["pid"]
        marker = self.homes["si"] / "sim-121-done"  # written by the JVM when it exits 121
        for _ in range(200):  # up to 20 s
            if marker.exists():
                break
            time.sleep(0.1)
        self.assertTrue(marker.exists())
        self.assertEqual(record(self.ws, "si")["pid"], si_script)
        self.assertEqual(launcher.count(r"si: Running -> "), 0)
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)

    def test_after_orders_start_and_reverses_stop(self):
        self.add("apim-1")
        self.add("apim-2", after=["apim-1"])
        self.add("apim-3", after=["apim-2"])
        launcher = self.launch()
        running = self.wait_running(launcher, ["apim-1", "apim-2", "apim-3"])
        start2 = launcher.wait_for(r"apim-2: Stopped -> Starting")
        start3 = launcher.wait_for(r"apim-3: Stopped -> Starting")
        self.assertLess(running["apim-1"], start2)
        self.assertLess(running["apim-2"], start3)
        mark = len(launcher.lines)
        launcher.signal(signal.SIGINT)
        self.assertEqual(launcher.wait_exit(), 0)
        stopped3 = launcher.wait_for(r"apim-3: Stopping -> Stopped", 1, mark)
        stopping2 = launcher.wait_for(r"apim-2: Running -> Stopping", 1, mark)
        stopped2 = launcher.wait_for(r"apim-2: Stopping -> Stopped", 1, mark)
        stopping1 = launcher.wait_for(r"apim-1: Running -> Stopping", 1, mark)
        self.assertLess(stopped3, stopping2)
        self.assertLess(stopped2, stopping1)

    def test_sighup_adds_removes_and_restarts_only_what_changed(self):
        for name in ("apim-1", "apim-2", "si"):
            self.add(name)
        launcher = self.launch()
        self.wait_running(launcher, ["apim-1", "apim-2", "si"])
        untouched = record(self.ws, "apim-1")["pid"]
        changed_before = record(self.ws, "apim-2")["pid"]
        self.add("tooling")                                      # added
        (self.ws.profiles / "si.json").unlink()                  # removed
        profile = json.loads((self.ws.profiles / "apim-2.json").read_text())
        profile["args"] = ["-Dsim.changed=true"]                 # changed
        (self.ws.profiles / "apim-2.json").write_text(json.dumps(profile))
        mark = len(launcher.lines)
        launcher.signal(signal.SIGHUP)
        launcher.wait_for(r"tooling: Starting -> Running", 30, mark)
        launcher.wait_for(r"si: Stopping -> Stopped", 30, mark)
        launcher.wait_for(r"apim-2: Stopping -> Stopped", 30, mark)
        launcher.wait_for(r"apim-2: Starting -> Running", 30, mark)
        self.assertNotEqual(record(self.ws, "apim-2")["pid"], changed_before)
        self.assertEqual(record(self.ws, "apim-1")["pid"], untouched)
        self.assertIsNone(record(self.ws, "si"))
        self.assertIn("system property sim.changed=true", (self.ws.state / "logs" / "apim-2.log").read_text())
        self.assertEqual(launcher.count(r"apim-1: \w+ -> \w+"), 2)  # only its first start: Starting, Running
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)

    def test_a_port_taken_while_in_backoff_is_a_port_conflict_not_a_crash_loop(self):
        self.add("apim-1", offset=37, sim={"crash_after_ms": 200},
                 restart={"delay_ms": 700, "max_delay_ms": 1000, "max_retries": 2})
        launcher = self.launch()
        backoff = launcher.wait_for(r"apim-1: Running -> Backoff", 30)
        with socket.socket() as blocker:
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            blocker.bind(("127.0.0.1", 9443 + 37))
            blocker.listen(1)
            # A retry that fails before any process exists keeps Backoff: a note, not a self-edge.
            conflict = launcher.wait_for(r"apim-1: still Backoff \(port-conflict: port 9480 "
                                         rf"\(HTTPS servlet .*\) is held by pid {os.getpid()} \(python", 30, backoff)
            launcher.wait_for(r"apim-1: Backoff -> Fatal \(gave up: port 9480 .* is held by pid", 30, conflict)
        self.assertEqual(launcher.count(r"apim-1: Backoff -> Starting"), 0)  # nothing was spawned
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)

    def test_a_plan_conflict_starts_nothing(self):
        self.add("apim-1", offset=37)
        with socket.socket() as blocker:
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            blocker.bind(("127.0.0.1", 9443 + 37))
            blocker.listen(1)
            launcher = self.launch()
            self.assertEqual(launcher.wait_exit(), 69)
        self.assertIn(f"is held by pid {os.getpid()}", "\n".join(launcher.lines))
        self.assertEqual(launcher.count("Starting"), 0)

    def test_plan_and_check_beside_the_running_launcher_count_its_ports_as_its_own(self):
        self.add("apim-1", offset=0)  # explicit: its ports are held by its own running JVM
        self.add("si")                 # auto: its sticky offset must not move
        launcher = self.launch()
        self.wait_running(launcher, ["apim-1", "si"])
        running = {name: record(self.ws, name)["offset"] for name in ("apim-1", "si")}

        code, plan = self.ws.plan_json()
        self.assertEqual(code, 0, plan["conflicts"])
        self.assertEqual({i["name"]: i["offset"] for i in plan["instances"]}, running)
        dirs = ["--profiles", str(self.ws.profiles), "--state-dir", str(self.ws.state)]
        check = self.ws.launcher("check", *dirs)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

        # A foreign holder is still one: a new profile whose port a test socket holds.
        self.add("apim-2", offset=41)
        with socket.socket() as blocker:
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            blocker.bind(("127.0.0.1", 9443 + 41))
            blocker.listen(1)
            code, plan = self.ws.plan_json()
        self.assertEqual(code, 69)
        self.assertIn(f"is held by pid {os.getpid()}", json.dumps(plan["conflicts"]))
        self.assertFalse(any(c["instance"] != "apim-2" for c in plan["conflicts"]), plan["conflicts"])

        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
