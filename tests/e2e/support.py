"""Helpers for carbon-launcher's end-to-end tests: real processes, real sockets on 127.0.0.1."""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile

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
        profile.update(fields)
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
