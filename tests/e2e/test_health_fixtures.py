"""What the launcher's health probes will talk to: carbon-sim's health endpoints and a real JVM.

carbon-sim (tools/SIMULATION.md F16, F17): API-M's /services/Version on the HTTP servlet port and
the gateway's startup health check over TLS with the home's self-signed certificate, both non-200
until health_delay_ms after the ports open; health_status; hang_after_ms (connections accepted,
never answered); a HotSpot-style thread dump on SIGQUIT. The real JVM (tests/java/HealthServer.java,
laid out by scripts/make-java-home.sh) answers /services/Version at its offset, prints a real thread
dump on SIGQUIT, runs its shutdown hook on SIGTERM (exit 143), and deadlocks on request.

Real processes and loopback sockets only; offsets are not 0; every wait is bounded; every process a
test starts is ended by its pid (and its process group) whatever happens.
"""
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from support import MAKE_SIM_HOME, REPO, SIM, alive, java_home, wait_until

MAKE_JAVA_HOME = REPO / "scripts" / "make-java-home.sh"
STARTUP_CHECK = "/api/am/gateway/v2/server-startup-healthcheck"
VERSION = "/services/Version"
HTTPS_SERVLET, HTTP_SERVLET = 9443, 9763


def unverified_tls():
    """A client context for a loopback probe of a self-signed certificate: no verification."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def get(port, path, tls=False, timeout=5.0):
    """(status, body) of one GET to 127.0.0.1:port."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=unverified_tls())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def status_or_none(port, path, tls=False, timeout=5.0):
    try:
        return get(port, path, tls, timeout)[0]
    except (OSError, http.client.HTTPException):
        return None


def accepts_tcp(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def unanswered(port, timeout=1.5):
    """True when a connection to `port` succeeds but a request on it gets no byte back in time."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {VERSION} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        sock.settimeout(timeout)
        try:
            sock.recv(1)  # an answer, or the server closing the connection
        except socket.timeout:
            return True
        return False


class Started:
    """A process started as a supervisor would start it, in a process group of its own, its output
    (stdout and stderr) going to a file; `home` holds its pid file."""

    def __init__(self, command, home, output, env=None):
        self.home = home
        self.output = output
        with open(output, "wb") as sink:
            self.proc = subprocess.Popen(command, cwd=home, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def text(self):
        return self.output.read_text(errors="replace")

    def wait_for_text(self, needle, timeout=60.0, after=0):
        if not wait_until(lambda: needle in self.text()[after:], timeout):
            raise AssertionError(f"{needle!r} never came within {timeout} s:\n{self.text()[-3000:]}")

    def jvm_pid_now(self):
        """The pid in HOME/wso2carbon.pid (NUL-padded, as API-M's), or None."""
        try:
            text = (self.home / "wso2carbon.pid").read_bytes().rstrip(b"\0").decode()
            return int(text) if text else None
        except (FileNotFoundError, ValueError):
            return None

    def jvm_pid(self):
        return wait_until(self.jvm_pid_now, 30)

    def end(self):
        """Whatever is left of it, killed by pid: the JVM from its pid file, the process, its group."""
        for pid in (self.jvm_pid_now(), self.proc.pid):
            if pid and alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


class FixtureTestCase(unittest.TestCase):
    def setUp(self):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-health-"))
        self.addCleanup(shutil.rmtree, self.root, ignore_errors=True)
        self.started = []
        self.addCleanup(self._end_all)

    def _end_all(self):
        for started in self.started:
            started.end()

    def start(self, command, home, env=None):
        started = Started(command, home, self.root / f"out-{len(self.started)}.txt", env)
        self.started.append(started)
        return started

    def start_script(self, home, script, args, java_home="/usr"):
        """The home's start script, with the environment the launcher gives it."""
        env = dict(os.environ, CARBON_HOME=str(home), JAVA_HOME=java_home)
        return self.start([str(home / script), *args], home, env)


class SimHealthTest(FixtureTestCase):
    """carbon-sim as API-M (and SI) at offsets != 0."""

    def sim_home(self, runtime="api-manager", **knobs):
        home = self.root / f"{runtime}-home"
        subprocess.run([str(MAKE_SIM_HOME), runtime, str(home), SIM], check=True, timeout=60)
        (home / "sim.json").write_text(json.dumps({"start_delay_ms": 100, "stop_delay_ms": 100, **knobs}))
        return home

    def start_sim(self, offset, **knobs):
        home = self.sim_home(**knobs)
        sim = self.start_script(home, "bin/api-manager.sh", [f"-DportOffset={offset}"])
        self.assertTrue(wait_until(lambda: accepts_tcp(HTTP_SERVLET + offset), 30), sim.text())
        return sim

    def test_version_answers_200_only_after_health_delay_ms(self):
        offset = 2311
        port = HTTP_SERVLET + offset
        sim = self.start_sim(offset, health_delay_ms=1500)
        opened = time.monotonic()
        early = status_or_none(port, VERSION)
        self.assertIsNotNone(early, sim.text())
        self.assertNotEqual(early, 200, "answered 200 before health_delay_ms")
        self.assertTrue(wait_until(lambda: status_or_none(port, VERSION) == 200, 15), sim.text())
        self.assertGreaterEqual(time.monotonic() - opened, 1.0, "200 came long before health_delay_ms")
        status, body = get(port, VERSION)
        self.assertEqual(status, 200)
        self.assertIn(b"<ns:getVersionResponse", body)
        self.assertIn(b"WSO2 API Manager", body)

    def test_startup_healthcheck_over_https_with_the_homes_self_signed_certificate(self):
        offset = 2312
        port = HTTPS_SERVLET + offset
        sim = self.start_sim(offset, health_delay_ms=1000)
        self.assertEqual(status_or_none(port, STARTUP_CHECK, tls=True), 500, sim.text())  # APIs not deployed
        self.assertTrue(wait_until(lambda: status_or_none(port, STARTUP_CHECK, tls=True) == 200, 15), sim.text())
        self.assertEqual(get(port, VERSION, tls=True)[0], 200)
        # A verifying client refuses the certificate: it is the home's own, self-signed one.
        with self.assertRaises(ssl.SSLCertVerificationError):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ssl.create_default_context().wrap_socket(raw, server_hostname="localhost"):
                    pass
        self.assertTrue((sim.home / "repository/resources/security/carbon-sim.crt").is_file())
        # The HTTP servlet port speaks plain HTTP, not TLS; the startup check is not on it.
        self.assertEqual(get(HTTP_SERVLET + offset, STARTUP_CHECK)[0], 404)

    def test_health_status_makes_every_health_endpoint_answer_it(self):
        offset = 2313
        sim = self.start_sim(offset, health_status=500)
        sim.wait_for_text("started in", 30)
        time.sleep(0.3)  # past health_delay_ms (0): the forced status stays
        self.assertEqual(status_or_none(HTTP_SERVLET + offset, VERSION), 500)
        self.assertEqual(status_or_none(HTTPS_SERVLET + offset, VERSION, tls=True), 500)
        self.assertEqual(status_or_none(HTTPS_SERVLET + offset, STARTUP_CHECK, tls=True), 500)

    def test_a_hung_sim_accepts_connections_never_answers_dumps_a_deadlock_and_still_stops(self):
        offset = 2314
        port = HTTP_SERVLET + offset
        sim = self.start_sim(offset, hang_after_ms=300)
        sim.wait_for_text("started in", 30)
        self.assertTrue(wait_until(lambda: status_or_none(port, VERSION, timeout=1.0) is None, 15), sim.text())
        self.assertTrue(unanswered(port), "a hung sim answered")
        self.assertTrue(unanswered(HTTPS_SERVLET + offset), "a hung sim answered on the HTTPS port")
        self.assertTrue(accepts_tcp(HTTPS_SERVLET + offset))
        pid = sim.jvm_pid()
        os.kill(pid, signal.SIGQUIT)
        sim.wait_for_text("Found one Java-level deadlock", 15)
        self.assertTrue(alive(pid))
        os.kill(pid, signal.SIGTERM)  # a deadlocked JVM still runs its shutdown hook and exits
        self.assertEqual(sim.proc.wait(timeout=30), 0)  # the script's 0 [F5]
        self.assertFalse(alive(pid))

    def test_sigquit_prints_a_thread_dump_and_the_sim_keeps_running(self):
        offset = 2315
        sim = self.start_sim(offset)
        sim.wait_for_text("started in", 30)
        pid = sim.jvm_pid()
        before = len(sim.text())
        os.kill(pid, signal.SIGQUIT)
        sim.wait_for_text("JNI global refs:", 15, after=before)
        dump = sim.text()[before:]
        self.assertRegex(dump, r"Full thread dump OpenJDK 64-Bit Server VM \(.*\):")
        self.assertRegex(dump, r'"main" #1 prio=5 .* nid=0x[0-9a-f]+ ')
        self.assertIn("java.lang.Thread.State: ", dump)
        self.assertIn(f"http-nio-{HTTP_SERVLET + offset}-Acceptor", dump)
        self.assertNotIn("deadlock", dump)
        time.sleep(0.3)
        self.assertTrue(alive(pid))
        self.assertEqual(sim.jvm_pid_now(), pid)
        self.assertEqual(get(HTTP_SERVLET + offset, VERSION)[0], 200)

    def test_si_https_port_accepts_tcp_and_speaks_nothing(self):
        home = self.sim_home("streaming-integrator")
        config = home / "conf/server/deployment.yaml"
        config.write_text(config.read_text().replace("offset: 0", "offset: 2316", 1))
        sim = self.start_script(home, "bin/server.sh", [])
        sim.wait_for_text("started in", 30)
        self.assertIn("offset 2316", sim.text())
        self.assertTrue(accepts_tcp(HTTPS_SERVLET + 2316))
        self.assertTrue(unanswered(HTTPS_SERVLET + 2316, timeout=0.5))


@unittest.skipUnless(java_home(), "no JDK (java and javac): scripts/install-deps.sh installs openjdk-17-jdk-headless")
class RealJvmTest(FixtureTestCase):
    """tests/java/HealthServer.java on a real HotSpot, in a home laid out by make-java-home.sh."""

    @classmethod
    def setUpClass(cls):
        cls.class_root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-java-home-"))
        cls.home = cls.class_root / "home"
        try:
            subprocess.run([str(MAKE_JAVA_HOME), str(cls.home)], check=True, timeout=300)
        except BaseException:
            shutil.rmtree(cls.class_root, ignore_errors=True)  # tearDownClass does not run
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.class_root, ignore_errors=True)

    def start_jvm_script(self, offset):
        jvm = self.start_script(self.home, "bin/api-manager.sh", [f"-DportOffset={offset}"], java_home())
        jvm.wait_for_text("WSO2 Carbon started in", 90)
        return jvm

    def start_jvm_directly(self, offset):
        """The JVM alone (no script), so that its own exit code is seen; it writes its pid file."""
        home = self.root / "direct"
        home.mkdir()
        command = [str(pathlib.Path(java_home()) / "bin/java"), "-Xmx64m", "-XX:+UseSerialGC",
                   "-cp", str(self.home / "lib/health-fixture"), "HealthServer",
                   f"-Dcarbon.home={home}", f"-DportOffset={offset}"]
        jvm = self.start(command, home)
        jvm.wait_for_text("WSO2 Carbon started in", 90)
        self.assertEqual(jvm.jvm_pid(), jvm.proc.pid)
        return jvm

    def test_the_jvm_answers_version_at_its_offset_dumps_on_sigquit_and_its_script_exits_0(self):
        offset = 2321
        jvm = self.start_jvm_script(offset)
        pid = jvm.jvm_pid()
        self.assertNotEqual(pid, jvm.proc.pid, "the JVM runs as a child of the script")
        status, body = get(HTTP_SERVLET + offset, VERSION, timeout=10)
        self.assertEqual(status, 200)
        self.assertIn(b"<ns:getVersionResponse", body)
        self.assertTrue(accepts_tcp(HTTPS_SERVLET + offset))
        before = len(jvm.text())
        os.kill(pid, signal.SIGQUIT)
        jvm.wait_for_text("Full thread dump", 30, after=before)
        jvm.wait_for_text("JNI global refs:", 30, after=before)
        dump = jvm.text()[before:]
        self.assertIn('"HTTP-Dispatcher" #', dump)  # the JDK HTTP server's thread, with its state
        self.assertIn("java.lang.Thread.State: ", dump)
        self.assertTrue(alive(pid))
        self.assertEqual(get(HTTP_SERVLET + offset, VERSION, timeout=10)[0], 200)
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(jvm.proc.wait(timeout=60), 0)  # the script masks the JVM's 143 [F5]
        self.assertIn("Shutdown hook triggered", jvm.text())

    def test_sigterm_runs_the_shutdown_hook_and_the_jvm_exits_143(self):
        jvm = self.start_jvm_directly(2322)
        os.kill(jvm.proc.pid, signal.SIGTERM)
        self.assertEqual(jvm.proc.wait(timeout=60), 143)
        self.assertIn("Shutdown hook triggered", jvm.text())

    def test_a_deadlocked_jvm_stops_answering_and_its_dump_reports_the_deadlock(self):
        offset = 2323
        port = HTTP_SERVLET + offset
        jvm = self.start_jvm_directly(offset)
        self.assertEqual(get(port, VERSION, timeout=10)[0], 200)
        self.assertEqual(get(port, "/deadlock", timeout=30)[0], 200)
        self.assertTrue(unanswered(port, timeout=2.0), "/services/Version still answered")
        self.assertTrue(accepts_tcp(port), "the port closed")
        os.kill(jvm.proc.pid, signal.SIGQUIT)
        jvm.wait_for_text("Found one Java-level deadlock", 30)
        self.assertIsNone(jvm.proc.poll())
        os.kill(jvm.proc.pid, signal.SIGTERM)  # the hook needs neither lock: it runs
        self.assertEqual(jvm.proc.wait(timeout=60), 143)
        self.assertIn("Shutdown hook triggered", jvm.text())


if __name__ == "__main__":
    unittest.main()
