"""Health probes end to end (offsets 51-61, used by no other test file: a probe leaves the
server side of its closed connections in TIME_WAIT on the instance's ports for a minute): readiness from the runtime's own endpoint, liveness that finds a hung
JVM, a thread dump before every restart and every forced kill, on the simulated runtime and on a
real JVM (tests/java/HealthServer.java). Offsets are not 0, so every probe follows the offset."""
import pathlib
import re
import socket
import subprocess
import time
import unittest
import urllib.request

from support import InstancesTestCase, REPO, alive, control_request, control_status, java_home, wait_until

HTTPS_SERVLET, HTTP_SERVLET = 9443, 9763
HEALTHCHECK = "/api/am/gateway/v2/server-startup-healthcheck"
MAKE_JAVA_HOME = REPO / "scripts" / "make-java-home.sh"
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})")


def accepts_tcp(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def log_seconds(line):
    """The launcher's timestamp of a log line, in seconds (same day)."""
    stamp = LOG_TIME.match(line).group(1)
    return time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + int(stamp[20:]) / 1000


def instance(socket_path, name):
    return control_status(socket_path, [name])["instances"][0]


def dumps(ws, name):
    return sorted((ws.state / "dumps").glob(f"{name}-*.txt")) if (ws.state / "dumps").exists() else []


class SimHealthTest(InstancesTestCase):
    def socket(self):
        return self.ws.state / "control.sock"

    def test_running_follows_the_health_endpoint_not_the_open_port(self):
        offset = 51
        self.add("gw", offset=offset, sim={"health_delay_ms": 4000})
        self.add("after-gw", offset=offset + 1, after=["gw"])
        launcher = self.launch()
        self.assertTrue(wait_until(lambda: accepts_tcp(HTTPS_SERVLET + offset), 30), "gw's HTTPS port accepts")
        # Its ports are open, its health check does not answer 200 yet: not Running, and what
        # comes after it has not started.
        self.assertEqual(instance(self.socket(), "gw")["state"], "Starting")
        self.assertEqual(instance(self.socket(), "after-gw")["state"], "Stopped")
        ready = launcher.wait_for(r"gw: Starting -> Running \(ready in .*readiness probe "
                                  rf"GET https://localhost:{HTTPS_SERVLET + offset}{HEALTHCHECK}", 30)
        launcher.wait_for(r"after-gw: Stopped -> Starting", 30, start=ready)
        health = instance(self.socket(), "gw")["health"]
        self.assertEqual(health["probes"]["liveness"],
                         f"GET http://localhost:{HTTP_SERVLET + offset}/services/Version (expects 200)")

    def test_a_500_readiness_keeps_it_starting_until_the_deadline_then_the_start_fails(self):
        self.add("apim-1", offset=53, sim={"health_status": 500}, ready={"timeout_s": 3},
                 restart={"delay_ms": 200, "max_delay_ms": 400, "max_retries": 1})
        launcher = self.launch()
        launcher.wait_for(r"apim-1: Stopped -> Starting", 30)
        self.assertTrue(wait_until(lambda: accepts_tcp(HTTPS_SERVLET + 53), 30), "its HTTPS port accepts")
        self.assertEqual(instance(self.socket(), "apim-1")["state"], "Starting")
        launcher.wait_for(r"apim-1: Starting -> Stopping \(not ready within 3 s", 30)
        launcher.wait_for(r"apim-1: Stopping -> Backoff", 30)
        last = instance(self.socket(), "apim-1")["health"]["last"]
        self.assertEqual(last["role"], "readiness")
        self.assertFalse(last["ok"])
        self.assertIn("500", last["detail"])
        launcher.wait_for(r"apim-1: .* -> Fatal", 60)
        self.assertEqual(launcher.count(r"apim-1: .* -> Running"), 0)

    def test_a_hung_instance_is_found_by_liveness_dumped_and_restarted_the_others_untouched(self):
        interval, threshold = 1, 2
        self.add("hung", offset=55, sim={"hang_after_ms": 500},
                 health={"liveness": {"interval_s": interval, "failure_threshold": threshold, "timeout_s": 1}})
        self.add("fine", offset=56)
        launcher = self.launch()
        launcher.wait_for(r"fine: Starting -> Running", 30)
        running = launcher.wait_for(r"hung: Starting -> Running", 30)
        fine_pid = self.jvm("fine")
        first_jvm = self.jvm("hung")
        failed = launcher.wait_for(r"hung: Running -> Stopping \(liveness probe failed 2 times in a row", 30,
                                   start=running)
        # Hung 0.5 s after it was ready; found within interval x threshold + 1 interval, plus
        # the probes' own timeouts (1 s each).
        found_after = log_seconds(launcher.lines[failed]) - log_seconds(launcher.lines[running])
        self.assertLessEqual(found_after, 0.5 + interval * threshold + interval + threshold * 1 + 1.0)
        launcher.wait_for(r"hung: thread dump written to ", 30, start=failed)
        launcher.wait_for(r"hung: Stopping -> Backoff \(liveness probe failed", 30, start=failed)
        launcher.wait_for(r"hung: Backoff -> Starting|hung: Stopped -> Starting", 30, start=failed)
        written = dumps(self.ws, "hung")
        self.assertTrue(written, "a thread dump file")
        text = written[0].read_text()
        self.assertIn(f"JVM pid {first_jvm}", text)
        self.assertIn("Full thread dump", text)
        self.assertIn('"main" #1', text)
        status = instance(self.socket(), "hung")
        self.assertEqual(status["reason"], "liveness-failed")
        self.assertGreaterEqual(status["health"]["dumps_taken"], 1)
        self.assertEqual(pathlib.Path(status["health"]["last_dump"]).parent, self.ws.state / "dumps")
        self.assertEqual(self.jvm("fine"), fine_pid)
        self.assertEqual(instance(self.socket(), "fine")["state"], "Running")

    def test_a_stop_that_times_out_leaves_a_thread_dump_before_the_kill(self):
        self.add("stubborn", offset=57, sim={"ignore_sigterm": True}, stop_timeout_s=2)
        launcher = self.launch()
        launcher.wait_for(r"stubborn: Starting -> Running", 30)
        jvm = self.jvm("stubborn")
        control_request(self.socket(), "stop", ["stubborn"])
        dumped = launcher.wait_for(r"stubborn: thread dump written to ", 30)
        killed = launcher.wait_for(r"stubborn: still running 2 s after .*SIGKILL", 30)
        self.assertLess(dumped, killed)
        launcher.wait_for(r"stubborn: Stopping -> Stopped", 30)
        text = dumps(self.ws, "stubborn")[0].read_text()
        self.assertIn(f"JVM pid {jvm}", text)
        self.assertIn("Full thread dump", text)
        self.assertFalse(alive(jvm))

    def test_dump_on_demand_through_the_control_socket(self):
        self.add("apim-1", offset=58)
        launcher = self.launch()
        launcher.wait_for(r"apim-1: Starting -> Running", 30)
        result = control_request(self.socket(), "dump", ["apim-1"])
        path = pathlib.Path(result["dumps"]["apim-1"])
        launcher.wait_for(r"apim-1: thread dump written to ", 30)
        self.assertIn("Full thread dump", path.read_text())
        self.assertEqual(instance(self.socket(), "apim-1")["state"], "Running")


@unittest.skipUnless(java_home(), "no JDK (java and javac): scripts/install-deps.sh installs openjdk-17-jdk-headless")
class RealJvmHealthTest(InstancesTestCase):
    """A real HotSpot JVM under the launcher: its deadlock is found by liveness, dumped, restarted."""

    def test_a_deadlocked_jvm_is_found_by_liveness_dumped_and_restarted(self):
        offset = 61
        home = self.ws.root / "homes" / "java-1"
        subprocess.run([str(MAKE_JAVA_HOME), str(home)], check=True, timeout=300)
        self.add("java-1", offset=offset, java_home=java_home(), stop_timeout_s=10,
                 ready={"timeout_s": 120},
                 health={"readiness": {"kind": "http", "port": "http-servlet", "path": "/services/Version"},
                         "liveness": {"interval_s": 1, "failure_threshold": 2, "timeout_s": 1}})
        launcher = self.launch()
        launcher.wait_for(r"java-1: Starting -> Running \(ready in .*readiness probe", 120)
        first_jvm = self.jvm("java-1")
        with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_SERVLET + offset}/deadlock", timeout=10) as answer:
            self.assertEqual(answer.status, 200)
        deadlocked_at = time.time()
        failed = launcher.wait_for(r"java-1: Running -> Stopping \(liveness probe failed 2 times", 60)
        # interval x threshold + 1 interval, plus the two probes' 1 s timeouts and a margin
        self.assertLessEqual(log_seconds(launcher.lines[failed]) - deadlocked_at, 1 * 2 + 1 + 2 + 1.0)
        launcher.wait_for(r"java-1: thread dump written to ", 30, start=failed)
        restarted = launcher.wait_for(r"java-1: Starting -> Running", 120, start=failed)
        text = dumps(self.ws, "java-1")[0].read_text()
        self.assertIn("Full thread dump OpenJDK", text)
        self.assertIn("Found one Java-level deadlock", text)
        self.assertNotEqual(self.jvm("java-1"), first_jvm)
        self.assertFalse(alive(first_jvm))
        self.assertGreater(restarted, failed)


if __name__ == "__main__":
    unittest.main()
