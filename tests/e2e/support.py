"""Helpers for carbon-launcher's end-to-end tests: real processes, real sockets on 127.0.0.1."""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
LAUNCHER = os.environ.get("CARBON_LAUNCHER", str(REPO / "build" / "bin" / "carbon-launcher"))
REAL_FIXTURES = pathlib.Path(os.environ.get("CARBON_REAL_FIXTURES", REPO.parent / "shared" / "fixtures" / "real"))
COMMAND_TIMEOUT_S = 60

SCRIPTS = {"api-manager": "bin/api-manager.sh", "streaming-integrator": "bin/server.sh",
           "si-tooling": "bin/tooling.sh"}
CONFIGS = {"api-manager": ("apim-deployment.toml", "repository/conf/deployment.toml"),
           "streaming-integrator": ("si-deployment.yaml", "conf/server/deployment.yaml"),
           "si-tooling": ("si-tooling-deployment.yaml", "conf/server/deployment.yaml")}


SIM_JDK_VERSION = "17.0.12"
# Simulated JVMs need no heap; `check` (run by `run` and `apply`) counts what a real one would.
SIM_JAVA_OPTS = "-Xmx64m"


def make_sim_jdk(folder):
    """A simulated JDK: the simulated JVMs need nothing of it; `check` reads its release file."""
    (folder / "bin").mkdir(parents=True, exist_ok=True)
    (folder / "release").write_text(f'JAVA_VERSION="{SIM_JDK_VERSION}"\n')
    return folder


def sim_profile_defaults(root, fields):
    """`fields` with a simulated JDK and a small heap unless they set their own."""
    env = {"JAVA_OPTS": SIM_JAVA_OPTS, **fields.get("env", {})}
    return {"java_home": str(make_sim_jdk(root / "jdk")), **fields, "env": env}


class Workspace:
    """A temp folder with homes/, profiles/ and state/, removed at the end."""

    def __init__(self):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-e2e-"))
        self.profiles = self.root / "profiles"
        self.state = self.root / "state"
        self.profiles.mkdir()
        self.state.mkdir()

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def add_instance(self, name, runtime, **fields):
        home = self.root / "homes" / name
        script = home / SCRIPTS[runtime]
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
        source, target = CONFIGS[runtime]
        (home / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / source, home / target)
        profile = {"name": name, "runtime": runtime, "home": str(home)}
        profile.update(sim_profile_defaults(self.root, fields))
        (self.profiles / f"{name}.json").write_text(json.dumps(profile, indent=2))
        return home

    def launcher(self, *args, check=False):
        command = [LAUNCHER, *args]
        if args and args[0] in ("plan", "apply"):
            command += ["--profiles", str(self.profiles), "--state-dir", str(self.state)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
        if check and result.returncode != 0:
            raise AssertionError(f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def plan_json(self):
        result = self.launcher("plan", "--json")
        return result.returncode, json.loads(result.stdout)


def wait_until(predicate, timeout=20.0, step=0.05):
    """Polls `predicate` until it returns a true value or `timeout` seconds pass (bounded)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / step) + 1):
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)
    return predicate()


def java_home():
    """The JDK that `javac` belongs to, or None (scripts/install-deps.sh installs one)."""
    javac = shutil.which("javac")
    if not javac or not shutil.which("java"):
        return None
    return str(pathlib.Path(os.path.realpath(javac)).parent.parent)


PROTOCOL_VERSION = 2  # of the control protocol (common/control_protocol.hpp)


def control_connect(socket_path, timeout=20):
    """A client socket connected to the launcher. A full accept queue answers EAGAIN: retried,
    a bounded number of times."""
    for _ in range(100):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(socket_path))
            return sock
        except BlockingIOError:
            sock.close()
            time.sleep(0.01)
    raise AssertionError(f"{socket_path} kept refusing connections")


def read_line(sock):
    """The next line the launcher sends (bytes, with its newline), or what came before it hung up."""
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def read_reply(sock):
    """The next message, parsed strictly: every line the launcher sends is UTF-8 JSON."""
    data = read_line(sock)
    if not data.endswith(b"\n"):
        raise AssertionError(f"no complete line from the launcher: {data[:200]!r}")
    return json.loads(data.decode("utf-8"))


def request_line(command, names=(), **fields):
    """A request of this protocol version, as the bytes sent."""
    request = {"v": PROTOCOL_VERSION, "id": 1, "cmd": command, "names": list(names), **fields}
    return json.dumps(request).encode() + b"\n"


def control_request(socket_path, command=None, names=(), raw=None, whole_reply=False, timeout=20, **fields):
    """One request on the control socket, answered without starting a CLI process (fast enough to
    sample states while something changes them). `raw`: bytes to send as they are instead. Returns
    the reply's result, or with `whole_reply` the reply itself, errors included."""
    with control_connect(socket_path, timeout) as sock:
        try:
            sock.sendall(raw if raw is not None else request_line(command, names, **fields))
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused (too large, busy): its reply is still there to read
        reply = read_reply(sock)
    if whole_reply:
        return reply
    if not reply.get("ok"):
        raise AssertionError(f"{command}: {reply}")
    return reply["result"]


def control_status(socket_path, names=(), **fields):
    """Every page of a status, put together as the CLI does."""
    whole, cursor = None, None
    for _ in range(100000):  # bounded: a cursor that does not move on is an error below
        extra = dict(fields, cursor=cursor) if cursor else fields
        page = control_request(socket_path, "status", names, **extra)
        next_cursor = page.pop("cursor", None)
        if whole is None:
            whole = page
        else:
            whole["instances"] += page["instances"]
        if next_cursor is None:
            return whole
        if cursor is not None and next_cursor <= cursor:
            raise AssertionError(f"the cursor did not move on: {cursor!r} -> {next_cursor!r}")
        cursor = next_cursor
    raise AssertionError("status never ended")


def listen_on(port):
    """A socket listening on 127.0.0.1:port, or None when the port is not free."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    sock.listen(1)
    return sock


SIM = os.environ.get("CARBON_SIM", str(REPO / "build" / "bin" / "carbon-sim"))
MAKE_SIM_HOME = REPO / "scripts" / "make-sim-home.sh"
PID_FILES = {"api-manager": "wso2carbon.pid", "streaming-integrator": "wso2/server/runtime.pid",
             "si-tooling": "wso2/server/runtime.pid"}


def add_sim_instance(ws, name, runtime, sim=None, **fields):
    """A simulated home (start script + carbon-sim) and its profile."""
    home = ws.root / "homes" / name
    if not home.exists():
        subprocess.run([str(MAKE_SIM_HOME), runtime, str(home), SIM], check=True, timeout=30)
    (home / "sim.json").write_text(json.dumps({"start_delay_ms": 150, "stop_delay_ms": 150, **(sim or {})}))
    profile = {"name": name, "runtime": runtime, "home": str(home),
               "stop_timeout_s": 5, "restart": {"delay_ms": 200, "max_delay_ms": 2000, "max_retries": 3}}
    profile.update(sim_profile_defaults(ws.root, fields))
    (ws.profiles / f"{name}.json").write_text(json.dumps(profile, indent=2))
    return home


def jvm_pid(home, runtime):
    """The simulated JVM's pid from the runtime's own pid file."""
    return pid_from_file(home / PID_FILES[runtime])


def pid_from_file(path):
    """The pid in a pid file, or None while it is missing or still being written (the script
    creates it empty, then writes; API-M pads it with NUL bytes)."""
    try:
        text = path.read_bytes().rstrip(b"\0").decode().strip()
        return int(text) if text else None
    except (FileNotFoundError, ValueError):
        return None


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_members(pgid):
    members = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid:
            members.append((int(entry.name), fields[0]))
    return members


def listening_ports_by_pid():
    """{port: pid} for every listening TCP socket on the host whose owner is visible."""
    inode_port = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = pathlib.Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":
                inode_port[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    owners = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inode_port:
                    owners[inode_port[target[8:-1]]] = int(entry.name)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return owners


class RunningLauncher:
    """`carbon-launcher run` as a child of the test; its log lines are collected by a thread."""

    def __init__(self, ws, extra_args=()):
        import queue
        import threading
        self.ws = ws
        self.lines = []
        self._new = queue.Queue()
        socket_args = list(extra_args) or ["--socket", str(ws.state / "control.sock")]
        self.proc = subprocess.Popen([LAUNCHER, "run", "--profiles", str(ws.profiles), "--state-dir", str(ws.state),
                                      *socket_args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            self._new.put(None)
        self._new.put(None)

    def wait_for(self, pattern, timeout=30, start=0):
        """Index of the first log line from `start` on that matches `pattern` (a regex)."""
        import re
        import queue
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            while seen < len(self.lines):
                if regex.search(self.lines[seen]):
                    return seen
                seen += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no log line matched {pattern!r} within {timeout} s:\n" +
                                     "\n".join(self.lines[-40:]) + self._instance_logs())
            try:
                self._new.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                pass

    def _instance_logs(self):
        text = ""
        if self.proc.poll() is None:  # what is the launcher doing? (diagnosis of a hang)
            status = pathlib.Path(f"/proc/{self.proc.pid}/status").read_text()
            text += "\n--- launcher " + " ".join(l for l in status.splitlines() if l.startswith(("State", "Threads")))
            if shutil.which("gdb"):
                trace = subprocess.run(["gdb", "-batch", "-p", str(self.proc.pid), "-ex", "thread apply all bt 12"],
                                       capture_output=True, text=True, timeout=60).stdout
                text += "\n" + "\n".join(l for l in trace.splitlines() if l.startswith(("#", "Thread")))
        for log in sorted((self.ws.state / "logs").glob("*.log")):
            text += f"\n--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-8:])
        return text

    def count(self, pattern):
        import re
        return sum(1 for line in self.lines if re.search(pattern, line))

    def signal(self, signum):
        self.proc.send_signal(signum)

    def wait_exit(self, timeout=60):
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        self.proc.stderr.close()
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._reader.join(timeout=5)
        self.proc.stderr.close()


def record(ws, name):
    try:
        return json.loads((ws.state / "instances" / f"{name}.json").read_text())
    except FileNotFoundError:
        return None


def kill_leftover_groups(pgids):
    """Ends, by process group id, whatever the test's instances left running."""
    import signal as _signal
    for pgid in pgids:
        try:
            os.killpg(pgid, _signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass



def end_launchers(ws, launchers, names):
    """SIGTERM to each of `launchers` and a wait for its graceful exit; then, whatever happened,
    each is killed by its pid and the recorded groups of `names` are ended."""
    groups = [r["pgid"] for r in (record(ws, name) for name in names) if r]
    for launcher in launchers:
        if launcher.proc.poll() is None:
            launcher.signal(signal.SIGTERM)
            try:
                launcher.wait_exit(60)
            except subprocess.TimeoutExpired:
                pass
        launcher.kill()
    kill_leftover_groups(groups)


def end_launcher(ws, launcher, names):
    end_launchers(ws, [launcher], names)

class InstancesTestCase(unittest.TestCase):
    """A workspace with simulated homes and the launchers a test starts. Cleanup is registered
    before anything can fail: every launcher is killed by its pid and every instance's recorded
    process group is ended, whatever the test did."""

    default_runtime = "api-manager"

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.homes = {}
        self.runtimes = {}
        self.launchers = []
        self.addCleanup(self._end_everything)

    def _end_everything(self):
        pgids = set()
        for name in self.homes:
            rec = record(self.ws, name)
            if rec:
                pgids.add(rec["pgid"])
        for launcher in self.launchers:
            launcher.kill()
        kill_leftover_groups(pgids)

    def add(self, name, runtime=None, sim=None, **fields):
        self.runtimes[name] = runtime or self.default_runtime
        self.homes[name] = add_sim_instance(self.ws, name, self.runtimes[name], sim, **fields)
        return self.homes[name]

    def launch(self, env=None):
        """`carbon-launcher run`; `env` is added to the environment it inherits."""
        saved = {key: os.environ.get(key) for key in env or {}}

        def restore():
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        os.environ.update(env or {})
        try:
            launcher = RunningLauncher(self.ws)
        finally:
            restore()
        self.launchers.append(launcher)
        return launcher

    def jvm(self, name):
        return jvm_pid(self.homes[name], self.runtimes[name])
