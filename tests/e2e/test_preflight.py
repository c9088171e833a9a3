"""`run` as a non-root user: nothing half done at start-up, and the per-user default socket.

Everything `run` needs (state dir, control socket) is checked before it writes any config: a
socket it cannot create fails with a message that says what to do, and the SI deployment.yaml is
byte-for-byte as it was. Without --socket a non-root launcher listens on
$XDG_RUNTIME_DIR/carbon-launcher/control.sock, where the clients find it.

When the test runs as root, the launcher runs as `nobody` (setpriv, or runuser), from a copy of
the binary in the workspace: the checkout may be under /root (mode 0700), out of nobody's reach.
"""
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import time
import unittest

from support import LAUNCHER, Workspace

COMMAND_TIMEOUT_S = 60
SI_CONFIG = pathlib.Path("conf/server/deployment.yaml")


def test_user():
    """(uid, gid) to run the launcher as: nobody when the test is root, else the test's own user."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


class PreflightTestCase(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.uid, self.gid = test_user()
        if os.geteuid() == 0 and not (shutil.which("setpriv") or shutil.which("runuser")):
            self.skipTest("running as root needs setpriv or runuser to become nobody")
        # The binary and its port tables, where the user can reach them.
        built = pathlib.Path(LAUNCHER).resolve()
        self.launcher = self.ws.root / "bin" / "carbon-launcher"
        self.launcher.parent.mkdir()
        shutil.copy2(built, self.launcher)
        tables = built.parent.parent / "share" / "carbon-launcher" / "runtimes"
        shutil.copytree(tables, self.ws.root / "share" / "carbon-launcher" / "runtimes")
        # One SI instance whose config run would rewrite: its file says offset 0, its profile
        # another one whose ports are free on this host.
        for offset in (1013, 2027, 3037):  # bounded: the first whose ports are all free
            home = self.ws.add_instance("si", "streaming-integrator", offset=offset, autostart=False)
            plan = self.ws.launcher("plan")
            if plan.returncode == 0:
                break
            self.assertEqual(plan.returncode, 69, plan.stderr)  # only a port conflict moves on
        else:
            self.skipTest("the ports of SI offsets 1013, 2027 and 3037 are all held on this host")
        self.config = home / SI_CONFIG
        self.assertIn("offset: 0\n", self.config.read_text())
        self.original = self.config.read_bytes()
        self.home = self.ws.root / "home"
        self.home.mkdir()
        self.chown_tree(self.ws.root)

    def chown_tree(self, root):
        if os.geteuid() != 0:
            return
        for dirpath, dirnames, filenames in os.walk(root):
            os.chown(dirpath, self.uid, self.gid)
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), self.uid, self.gid, follow_symlinks=False)

    def command(self, *args, env=None):
        """The launcher with `args` as the test user, with a clean environment plus `env`."""
        environment = {"PATH": "/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8"}
        environment.update(env or {})
        if "ASAN_OPTIONS" in os.environ:
            environment["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"]
        prefix = []
        if os.geteuid() == 0:
            if shutil.which("setpriv"):  # execs the launcher itself: its pid is the launcher's
                prefix = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--"]
            else:
                prefix = ["runuser", "-u", pwd.getpwuid(self.uid).pw_name, "--"]
        return [*prefix, "env", "-i", *(f"{k}={v}" for k, v in environment.items()), str(self.launcher), *args]

    def run_as_user(self, *args, env=None):
        return subprocess.run(self.command(*args, env=env), capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, cwd=self.ws.root)

    def run_args(self, *extra):
        return ("run", "--profiles", str(self.ws.profiles), "--state-dir", str(self.ws.state), *extra)

    def assert_nothing_written(self):
        self.assertEqual(self.config.read_bytes(), self.original, "the SI config was rewritten")
        self.assertFalse((self.ws.state / "offsets.json").exists(), "sticky offsets were saved")


class NothingHalfDoneTest(PreflightTestCase):
    def test_a_socket_dir_the_user_cannot_write_fails_before_any_config_is_written(self):
        locked = self.ws.root / "locked"
        locked.mkdir()
        self.chown_tree(locked)
        locked.chmod(0o555)
        socket = locked / "carbon-launcher" / "control.sock"
        result = self.run_as_user(*self.run_args("--socket", str(socket)))
        self.assertEqual(result.returncode, 74, result.stderr)
        self.assertIn(f"cannot create the control socket {socket}", result.stderr)
        self.assertIn(f"{locked} is not writable by this user", result.stderr)
        self.assertIn("pass --socket PATH", result.stderr)
        self.assert_nothing_written()
        self.assertFalse((locked / "carbon-launcher").exists())

    def test_a_socket_path_in_an_existing_read_only_dir_fails_the_same_way(self):
        locked = self.ws.root / "sockets"
        locked.mkdir()
        self.chown_tree(locked)
        locked.chmod(0o555)
        socket = locked / "control.sock"
        result = self.run_as_user(*self.run_args("--socket", str(socket)))
        self.assertEqual(result.returncode, 74, result.stderr)
        self.assertIn(f"{locked} is not writable by this user", result.stderr)
        self.assert_nothing_written()

    def test_the_system_socket_as_a_non_root_user_says_what_to_do(self):
        if self.uid == 0:
            self.skipTest("needs a non-root user")
        result = self.run_as_user(*self.run_args("--socket", "/run/carbon-launcher-preflight-test/control.sock"))
        self.assertEqual(result.returncode, 74, result.stderr)
        self.assertIn("pass --socket PATH in a directory this user can write, or run as root", result.stderr)
        self.assert_nothing_written()

    def test_no_xdg_runtime_dir_and_no_socket_is_a_usage_error(self):
        result = self.run_as_user(*self.run_args())
        self.assertEqual(result.returncode, 64, result.stderr)
        self.assertIn("XDG_RUNTIME_DIR is not set", result.stderr)
        self.assertIn("pass --socket PATH", result.stderr)
        self.assert_nothing_written()

    def test_another_users_xdg_runtime_dir_is_not_used(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to own a directory the user does not")
        foreign = self.ws.root / "foreign-runtime"
        foreign.mkdir(mode=0o755)
        os.chown(foreign, 0, 0)
        result = self.run_as_user(*self.run_args(), env={"XDG_RUNTIME_DIR": str(foreign)})
        self.assertEqual(result.returncode, 64, result.stderr)
        self.assertIn("belongs to another user", result.stderr)
        self.assert_nothing_written()

    def test_a_state_dir_the_user_cannot_write_fails_before_any_config_is_written(self):
        # The lock file is there and writable, the directory itself is not: the state lock is
        # taken, yet logs/ and offsets.json could not be written later.
        (self.ws.state / "launcher.lock").touch()
        self.chown_tree(self.ws.state)
        self.ws.state.chmod(0o555)
        runtime = self.ws.root / "runtime"
        runtime.mkdir(mode=0o700)
        self.chown_tree(runtime)
        result = self.run_as_user(*self.run_args(), env={"XDG_RUNTIME_DIR": str(runtime)})
        self.assertEqual(result.returncode, 74, result.stderr)
        self.assertIn(f"cannot use the state dir {self.ws.state}", result.stderr)
        self.assertIn("pass --state-dir DIR", result.stderr)
        self.assert_nothing_written()


class UserDefaultsTest(PreflightTestCase):
    def test_run_and_status_meet_at_the_xdg_runtime_dir_socket(self):
        runtime = self.ws.root / "runtime"
        runtime.mkdir(mode=0o700)
        state_home = self.ws.root / "state-home"
        state_home.mkdir()
        self.chown_tree(self.ws.root)
        env = {"XDG_RUNTIME_DIR": str(runtime), "XDG_STATE_HOME": str(state_home)}
        socket = runtime / "carbon-launcher" / "control.sock"
        state = state_home / "carbon-launcher"
        proc = subprocess.Popen(self.command("run", "--profiles", str(self.ws.profiles), env=env),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=self.ws.root)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=30)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(stop)
        deadline = time.monotonic() + 30
        while not socket.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not socket.exists():
            stop()
            self.fail(f"no socket at {socket} (exit {proc.returncode}):\n{proc.stderr.read()}")
        self.assertEqual(socket.stat().st_uid, self.uid)
        self.assertTrue((state / "launcher.lock").exists(), "the state dir is not under XDG_STATE_HOME")
        # Served once the configs are written (the socket is bound just before).
        status = self.run_as_user("status", env=env)
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("si", status.stdout)
        self.assertNotEqual(self.config.read_bytes(), self.original, "run did not write the planned offset")

        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertFalse(socket.exists(), "the socket outlived the launcher")

    def test_a_client_without_a_user_launcher_asks_the_system_socket(self):
        runtime = self.ws.root / "runtime"
        runtime.mkdir(mode=0o700)
        self.chown_tree(runtime)
        result = self.run_as_user("status", env={"XDG_RUNTIME_DIR": str(runtime)})
        # 69: nothing listens there; 77: a system launcher does, and this user is not in its group.
        self.assertIn(result.returncode, (69, 77), result.stderr)
        self.assertIn("/run/carbon-launcher/control.sock", result.stderr)


if __name__ == "__main__":
    unittest.main()
