"""The Windows build, end to end under Wine: console mode with two API-M instances behind a fake
api-manager.bat, graceful stop by CTRL_C to one instance's own console, their job objects, the SI
YAML patched before start, exit 121, and the service round trip through the SCM (two services
side by side too). Behind an api-manager.bat shaped like WSO2's (blind tmp wipe, 121 loop, no
`exit /b` at the end): the tmp guard, and the exit code the launcher sees when the JVM exits 1.

Run by scripts/test-windows.sh after the cross-build. Everything runs in a private WINEPREFIX that
is deleted at the end; every process a test starts is ended by its pid.
"""
import json
import os
import re
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("CARBON_WIN_BUILD", REPO / "build-win"))
LAUNCHER = BUILD / "bin" / "carbon-launcher.exe"
SIM = BUILD / "bin" / "carbon-sim.exe"
FIXTURES = REPO / "tests" / "fixtures"
WAIT_S = 60
API_M_HTTPS = 9443
GRACEFUL = "carbon-sim: shutting down (signal 2)"  # the simulated JVM got CTRL_C (SIGINT)


def windows_path(path):
    """Wine maps / to drive Z:."""
    return "Z:" + str(path).replace("/", "\\")


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(what, predicate, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded by time, and by 0.2 s per round
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def unix_pids_of(marker):
    """Linux pids of the Wine processes whose command line holds `marker` (our temp dir's name: Wine
    shows Windows command lines, Z:\\tmp\\NAME\\...)."""
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append((int(entry.name), cmdline))
    return pids


def kill_leftovers(workspace):
    """Anything of ours still alive after a failed test: by pid."""
    for pid, _ in unix_pids_of(workspace.root.name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class WinePrefix:
    """A private, headless Wine prefix with a persistent wineserver (sc needs one)."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="carbon-wine-"))
        self.env = dict(os.environ, WINEPREFIX=str(self.dir), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")
        self.env.pop("DISPLAY", None)
        started = time.monotonic()
        subprocess.run(["wineboot", "-i"], env=self.env, capture_output=True, timeout=180, check=True)
        subprocess.run(["wineserver", "-w"], env=self.env, timeout=180, check=True)
        subprocess.run(["wineserver", "-p"], env=self.env, timeout=60, check=True)
        print(f"wine prefix {self.dir} ready in {time.monotonic() - started:.1f} s", flush=True)

    def run(self, *args, timeout=120, check=False, env=None, cwd=None):
        # Output through files, not pipes: Wine's own background processes (services.exe and
        # friends), started by whichever wine command comes first, inherit the descriptors and
        # would keep a pipe open long after the command itself has ended.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            code = subprocess.run(["wine", *map(str, args)], env=dict(self.env, **(env or {})),
                                  cwd=cwd, stdout=out, stderr=err, timeout=timeout).returncode
            out.seek(0)
            err.seek(0)
            result = subprocess.CompletedProcess(args, code, out.read().decode(errors="replace"),
                                                 err.read().decode(errors="replace"))
        if check and result.returncode != 0:
            raise AssertionError(f"wine {args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def close(self):
        subprocess.run(["wineserver", "-k"], env=self.env, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


# runtime -> (start script, our fixture, where the runtime keeps it)
RUNTIMES = {"api-manager": ("api-manager.bat", "apim-deployment.toml", "repository/conf/deployment.toml"),
            "streaming-integrator": ("server.bat", "si-deployment.yaml", "conf/server/deployment.yaml")}


def passthrough_bat(runtime):
    """Runs the "JVM" as a child of cmd.exe with the script's arguments and hands its exit code on.
    SI: as carbon.bat does, RUNTIME_HOME defaults to HOME\\wso2\\server and its folder name is the
    runtime name; both reach the JVM as -Dwso2.runtime.path / -Dwso2.runtime (tools/SIMULATION.md
    W5)."""
    carbon5 = ""
    if runtime != "api-manager":
        carbon5 = ("if \"%RUNTIME_HOME%\"==\"\" set RUNTIME_HOME=%CARBON_HOME%\\wso2\\server\r\n"
                   "for %%R in (\"%RUNTIME_HOME%\") do set RUNTIME=%%~nxR\r\n")
    properties = " -Dwso2.runtime.path=\"%RUNTIME_HOME%\" -Dwso2.runtime=%RUNTIME%" if carbon5 else ""
    return ("@echo off\r\n" + carbon5 +
            f"\"{windows_path(SIM)}\" jvm --runtime {runtime} --home \"%CARBON_HOME%\"{properties} %*\r\n"
            "exit /b %ERRORLEVEL%\r\n")


def wso2_shaped_bat(runtime):
    """A start script shaped like WSO2's api-manager.bat (see tools/SIMULATION.md, "Windows .bat
    facts"): it enters HOME, empties tmp blindly (`cd` into it, then delete everything in whatever
    folder it is in), runs the "JVM" in the 121 loop and ends without `exit /b`, so cmd.exe
    returns the ERRORLEVEL the last command left. Our own text, not WSO2's."""
    return ("@echo off\r\n"
            # Only for the test's safety: never wipe a folder we cannot name (WSO2's script
            # derives CARBON_HOME itself; the launcher always sets it).
            "if \"%CARBON_HOME%\"==\"\" exit /b 99\r\n"
            "setlocal enabledelayedexpansion\r\n"
            "cd /d \"%CARBON_HOME%\"\r\n"
            "set TMP_DIR=%CARBON_HOME%\\tmp\r\n"
            "cd \"%TMP_DIR%\"\r\n"
            "del *.* /s /q > nul\r\n"
            # WSO2 writes `FOR /d %%G in ("*.*")`: Windows matches every subfolder with it, Wine
            # 8's cmd none; (*) removes the subfolders under both, as Windows does.
            "FOR /d %%G in (*) DO rmdir /s /q \"%%G\"\r\n"
            "cd ..\r\n"
            ":runJava\r\n"
            f"\"{windows_path(SIM)}\" jvm --runtime {runtime} --home \"%CARBON_HOME%\" %*\r\n"
            "if \"%ERRORLEVEL%\"==\"121\" goto runJava\r\n"
            ":end\r\n"
            "goto endlocal\r\n"
            "\r\n"
            ":endlocal\r\n"
            "\r\n"
            ":END\r\n")


class Workspace:
    """Simulated homes whose bin\\*.bat runs carbon-sim.exe the way WSO2's scripts run java, and
    their profiles (API-M unless a name starts with "si"). `wso2_shaped`: the .bat wipes tmp and
    ends as WSO2's does (wso2_shaped_bat); otherwise it is a plain pass-through."""

    def __init__(self, names=("apim-1", "apim-2"), wso2_shaped=False, restart=None):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="carbon-win-e2e-"))
        self.profiles = self.root / "profiles"
        self.state = self.root / "state"
        self.profiles.mkdir()
        jdk = self.root / "jdk"
        (jdk / "bin").mkdir(parents=True)  # JAVA_HOME must exist; the simulated JVM needs nothing in it
        (jdk / "release").write_text('JAVA_VERSION="17.0.12"\n')  # read by the host checks
        self.homes = {}
        for name in names:
            runtime = "streaming-integrator" if name.startswith("si") else "api-manager"
            script, fixture, config = RUNTIMES[runtime]
            home = self.homes[name] = self.root / "homes" / name
            (home / "bin").mkdir(parents=True)
            (home / config).parent.mkdir(parents=True)
            shutil.copyfile(FIXTURES / fixture, home / config)
            # Shaped like WSO2's: passes its arguments on, runs the "JVM" as a child of cmd.exe.
            (home / "bin" / script).write_text(wso2_shaped_bat(runtime) if wso2_shaped else passthrough_bat(runtime))
            (home / "sentinel.txt").write_text("the pack\n")  # must survive every start
            profile = {"name": name, "runtime": runtime, "home": windows_path(home),
                       "offset": "auto", "java_home": windows_path(jdk), "stop_timeout_s": 3,
                       "env": {"JAVA_OPTS": "-Xmx64m"}}  # the host checks count a real JVM's heap
            if restart:
                profile["restart"] = restart
            (self.profiles / f"{name}.json").write_text(json.dumps(profile, indent=2))

    def log(self, name):
        path = self.state / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def offsets_in_logs(workspace, names):
    """The offset each instance's "JVM" says it got on its command line, once all have said."""
    found = {}
    for name in names:
        for line in workspace.log(name).splitlines():
            if "system property portOffset=" in line:
                found[name] = int(line.rsplit("=", 1)[1])
    return found if len(found) == len(names) else None


class WindowsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for binary in (LAUNCHER, SIM):
            if not binary.exists():
                raise unittest.SkipTest(f"{binary} is missing: run scripts/build-windows.sh first")
        cls.wine = WinePrefix()

    @classmethod
    def tearDownClass(cls):
        cls.wine.close()

    def setUp(self):
        self.workspace = Workspace()
        self.started = []  # Linux pids of processes this test started
        self.console_log = open(self.workspace.root / "console.log", "wb")

    def tearDown(self):
        kill_leftovers(self.workspace)
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
        self.console_log.close()
        result = self._outcome.result  # unittest has no public "did this test fail"
        if any(test is self for test, _ in result.failures + result.errors):
            print((self.workspace.root / "console.log").read_text(errors="replace")[-4000:])
        self.workspace.close()

    def assert_instances_up(self, names):
        offsets = wait_until("both instances to print their -DportOffset", lambda: offsets_in_logs(self.workspace, names))
        self.assertEqual(len(set(offsets.values())), len(names), f"offsets must differ: {offsets}")
        for name, offset in offsets.items():
            wait_until(f"{name} on port {API_M_HTTPS + offset}", lambda: accepts(API_M_HTTPS + offset))
        return offsets

    def test_console_mode_runs_two_offsets_and_the_job_ends_them_with_the_launcher(self):
        names = ["apim-1", "apim-2"]
        pipe = f"\\\\.\\pipe\\carbon-test-{os.getpid()}"
        launcher = subprocess.Popen(
            ["wine", str(LAUNCHER), "run", "--profiles", windows_path(self.workspace.profiles),
             "--state-dir", windows_path(self.workspace.state), "--socket", pipe],
            env=self.wine.env, stdout=self.console_log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(launcher)
        offsets = self.assert_instances_up(names)
        print(f"console mode: offsets {offsets}", flush=True)
        # Each "JVM" got its own -DportOffset on its command line (Wine shows it in /proc).
        sims = wait_until("two carbon-sim processes", lambda: [c for _, c in unix_pids_of(self.workspace.root.name)
                                                                if "carbon-sim.exe" in c and "jvm" in c] or None)
        for offset in offsets.values():
            self.assertTrue(any(f"-DportOffset={offset}" in c for c in sims), sims)

        # wait-ready follows state events over the pipe until both are Running.
        self.wine.run(LAUNCHER, "wait-ready", "--socket", pipe, "--timeout", WAIT_S, check=True)
        status = self.wine.run(LAUNCHER, "status", "--socket", pipe, "--json", check=True)
        instances = {i["name"]: i for i in json.loads(status.stdout)["instances"]}
        for name, offset in offsets.items():
            self.assertEqual(instances[name]["state"], "Running")
            self.assertEqual(instances[name]["offset"], offset)

        # A graceful stop of one: CTRL_C reaches that instance's own console only.
        self.wine.run(LAUNCHER, "stop", "apim-1", "--wait", "--socket", pipe, check=True)
        self.assertIn(GRACEFUL, self.workspace.log("apim-1"))
        self.assertNotIn(GRACEFUL, self.workspace.log("apim-2"))
        self.assertFalse(accepts(API_M_HTTPS + offsets["apim-1"]))
        self.assertTrue(accepts(API_M_HTTPS + offsets["apim-2"]))

        # Kill the launcher outright: the kernel closes its job handles and the job ends the rest.
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait(timeout=30)
        for offset in offsets.values():
            wait_until(f"port {API_M_HTTPS + offset} to close", lambda: not accepts(API_M_HTTPS + offset), 30)
        self.assertNotIn(GRACEFUL, self.workspace.log("apim-2"))  # killed by the job, not asked
        wait_until("no carbon-sim left", lambda: not [c for _, c in unix_pids_of(self.workspace.root.name)
                                                       if "carbon-sim.exe" in c], 30)

    def test_service_round_trip_with_status_over_the_named_pipe(self):
        names = ["apim-1", "apim-2"]
        service = f"carbon-test-{os.getpid()}"
        pipe = f"\\\\.\\pipe\\carbon-launcher-{service}"
        install = self.wine.run(LAUNCHER, "service", "install", "--name", service,
                                "--profiles", windows_path(self.workspace.profiles),
                                "--state-dir", windows_path(self.workspace.state), check=True)
        self.assertIn(f"installed service {service}", install.stdout)
        try:
            self.wine.run("sc", "start", service, check=True)
            wait_until("RUNNING", lambda: "RUNNING" in self.wine.run("sc", "query", service).stdout)
            # The service reports RUNNING only once every instance is ready: no wait needed here.
            status = self.wine.run(LAUNCHER, "status", "--socket", pipe, "--json", check=True)
            self.assertEqual([i["state"] for i in json.loads(status.stdout)["instances"]], ["Running"] * 2)
            offsets = self.assert_instances_up(names)
            print(f"service mode: offsets {offsets}", flush=True)
            self.wine.run(LAUNCHER, "wait-ready", "--socket", pipe, "--timeout", WAIT_S, check=True)
            status = self.wine.run(LAUNCHER, "status", "--socket", pipe, "--json", check=True)
            instances = {i["name"]: i for i in json.loads(status.stdout)["instances"]}
            self.assertEqual({n: instances[n]["state"] for n in names}, {n: "Running" for n in names})

            self.wine.run("sc", "stop", service, check=True)
            wait_until("STOPPED", lambda: "STOPPED" in self.wine.run("sc", "query", service).stdout)
            for offset in offsets.values():
                self.assertFalse(accepts(API_M_HTTPS + offset), f"port {API_M_HTTPS + offset} still open")
            self.assertFalse([c for _, c in unix_pids_of(self.workspace.root.name) if "carbon-sim.exe" in c])
            launcher_log = (self.workspace.state / "launcher.log").read_text(errors="replace")
            self.assertIn("every instance has stopped", launcher_log)
            # Stopped by CTRL_C (the "JVM" ran its shutdown path), not by the job's kill.
            self.assertNotIn("TerminateJobObject", launcher_log)
            for name in names:
                self.assertIn(GRACEFUL, self.workspace.log(name))
        finally:
            uninstall = self.wine.run(LAUNCHER, "service", "uninstall", "--name", service)
        self.assertEqual(uninstall.returncode, 0, uninstall.stdout + uninstall.stderr)
        self.assertNotIn("RUNNING", self.wine.run("sc", "query", service).stdout)

    def test_si_yaml_is_patched_before_start_and_exit_121_restarts(self):
        workspace = Workspace(("apim-1", "si-1"))
        self.addCleanup(workspace.close)
        self.addCleanup(kill_leftovers, workspace)
        (workspace.homes["apim-1"] / "sim.json").write_text('{"exit_121_after_ms": 300}')
        pipe = f"\\\\.\\pipe\\carbon-si-{os.getpid()}"
        launcher = subprocess.Popen(
            ["wine", str(LAUNCHER), "run", "--profiles", windows_path(workspace.profiles),
             "--state-dir", windows_path(workspace.state), "--socket", pipe],
            env=self.wine.env, stdout=self.console_log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(launcher)
        wait_until("apim-1 to ask for a restart", lambda: "restart requested (exit 121)" in workspace.log("apim-1"))
        wait_until("apim-1 to start again",
                   lambda: workspace.log("apim-1").count("WSO2 Carbon started in") == 2)
        self.wine.run(LAUNCHER, "wait-ready", "--socket", pipe, "--timeout", WAIT_S, check=True)
        status = self.wine.run(LAUNCHER, "status", "--socket", pipe, "--json", check=True)
        instances = {i["name"]: i for i in json.loads(status.stdout)["instances"]}
        self.assertEqual(instances["apim-1"]["restarts"], 1)
        si_offset = instances["si-1"]["offset"]
        # SI shares 9443 with API-M at offset 0, so it cannot keep its shipped 0; the launcher wrote
        # the new offset into its YAML (atomically, with a backup) before starting it.
        self.assertNotEqual(si_offset, 0)
        yaml_file = workspace.homes["si-1"] / "conf/server/deployment.yaml"
        self.assertIn(f"offset: {si_offset}", yaml_file.read_text())
        self.assertIn("offset: 0", yaml_file.with_name("deployment.yaml.carbon-launcher.orig").read_text())
        self.assertIn(f" offset {si_offset} home", workspace.log("si-1"))  # what the "JVM" read
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait(timeout=30)
        wait_until("no carbon-sim left", lambda: not [c for _, c in unix_pids_of(workspace.root.name)
                                                       if "carbon-sim.exe" in c], 30)

    def test_a_service_whose_profiles_break_stops_with_78_and_starts_nothing(self):
        service = f"carbon-bad-{os.getpid()}"
        self.wine.run(LAUNCHER, "service", "install", "--name", service,
                      "--profiles", windows_path(self.workspace.profiles),
                      "--state-dir", windows_path(self.workspace.state), check=True)
        try:
            key = f"HKLM\\System\\CurrentControlSet\\Services\\{service}"
            registry = self.wine.run("reg", "query", key, check=True).stdout
            self.assertRegex(registry, r"Start\s+REG_DWORD\s+0x2")  # SERVICE_AUTO_START
            self.assertRegex(registry, r"PreshutdownTimeout\s+REG_DWORD\s+0x2bf20")  # 180 s
            self.assertIn(f'service run --name {service} --profiles "{windows_path(self.workspace.profiles)}"',
                          registry)
            (self.workspace.profiles / "apim-2.json").write_text('{"name": "apim-2", "runtime": ')
            self.wine.run("sc", "start", service)
            # sc start returns at once, and the service was STOPPED (exit 0) before it: wait for
            # the stop that carries the launcher's exit code 78 (EX_CONFIG).
            wait_until("STOPPED with exit code 78", lambda: re.search(
                r"STOPPED.*SERVICE_EXIT_CODE\s+:\s+78\b", self.wine.run("sc", "query", service).stdout, re.S))
            launcher_log = (self.workspace.state / "launcher.log").read_text(errors="replace")
            self.assertIn("apim-2.json: JSON syntax error", launcher_log)
            self.assertEqual(self.workspace.log("apim-1"), "")  # nothing was started
            self.assertFalse([c for _, c in unix_pids_of(self.workspace.root.name) if "carbon-sim.exe" in c])
        finally:
            uninstall = self.wine.run(LAUNCHER, "service", "uninstall", "--name", service)
        self.assertEqual(uninstall.returncode, 0, uninstall.stdout + uninstall.stderr)

    def test_two_services_side_by_side_get_their_own_pipes_and_offsets(self):
        other = Workspace(("apim-3", "apim-4"))
        self.addCleanup(other.close)
        self.addCleanup(kill_leftovers, other)
        services = {f"carbon-a-{os.getpid()}": (self.workspace, ["apim-1", "apim-2"]),
                    f"carbon-b-{os.getpid()}": (other, ["apim-3", "apim-4"])}
        offsets = {}
        try:
            for service, (workspace, names) in services.items():  # one after the other: the
                self.wine.run(LAUNCHER, "service", "install", "--name", service,  # second sees the
                              "--profiles", windows_path(workspace.profiles),  # first's ports held
                              "--state-dir", windows_path(workspace.state), check=True)
                self.wine.run("sc", "start", service, check=True)
                wait_until(f"{service} RUNNING", lambda: "RUNNING" in self.wine.run("sc", "query", service).stdout)
                status = self.wine.run(LAUNCHER, "status", "--socket", f"\\\\.\\pipe\\carbon-launcher-{service}",
                                       "--json", check=True)
                for instance in json.loads(status.stdout)["instances"]:
                    self.assertEqual(instance["state"], "Running")
                    offsets[instance["name"]] = instance["offset"]
            print(f"two services: offsets {offsets}", flush=True)
            self.assertEqual(len(offsets), 4)
            self.assertEqual(len(set(offsets.values())), 4, offsets)
            for offset in offsets.values():
                self.assertTrue(accepts(API_M_HTTPS + offset))
        finally:
            for service in services:
                self.wine.run(LAUNCHER, "service", "uninstall", "--name", service)
        for offset in offsets.values():
            self.assertFalse(accepts(API_M_HTTPS + offset))


    # --- Behind a .bat shaped like WSO2's: the tmp guard and the exit status ----------------------

    def run_launcher(self, workspace, pipe):
        launcher = subprocess.Popen(
            ["wine", str(LAUNCHER), "run", "--profiles", windows_path(workspace.profiles),
             "--state-dir", windows_path(workspace.state), "--socket", pipe],
            env=self.wine.env, stdout=self.console_log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(launcher)
        # The pipe exists once the plan is made: wait for it before asking anything.
        wait_until("the control pipe", lambda: self.wine.run(LAUNCHER, "status", "--socket", pipe).returncode == 0)
        return launcher

    def instance_status(self, pipe, name):
        status = self.wine.run(LAUNCHER, "status", "--socket", pipe, "--json", check=True)
        return {i["name"]: i for i in json.loads(status.stdout)["instances"]}[name]

    def sims_of(self, workspace):
        return [c for _, c in unix_pids_of(workspace.root.name) if "carbon-sim.exe" in c]

    def test_the_wso2_shaped_wipe_deletes_the_home_when_tmp_is_missing(self):
        """The hazard itself, without the launcher: what the guard is for. Only the wipe lines of
        wso2_shaped_bat run here, from outside the home (the wipe would delete the script too)."""
        workspace = Workspace(("apim-1", "apim-2"))
        self.addCleanup(workspace.close)
        wipe = workspace.root / "wipe.bat"
        wipe.write_text(wso2_shaped_bat("api-manager").split(":runJava")[0] + "exit /b 0\r\n")
        with_tmp, without_tmp = workspace.homes["apim-1"], workspace.homes["apim-2"]
        (with_tmp / "tmp" / "old-run").mkdir(parents=True)
        (with_tmp / "tmp" / "old-run" / "cache.bin").write_text("old")
        (with_tmp / "tmp" / "old.txt").write_text("old")
        for home in (with_tmp, without_tmp):
            self.wine.run("cmd", "/d", "/c", windows_path(wipe), env={"CARBON_HOME": windows_path(home)},
                          cwd=home, check=True)
        # A real tmp: emptied, and nothing else touched.
        self.assertEqual(list((with_tmp / "tmp").iterdir()), [])
        self.assertTrue((with_tmp / "sentinel.txt").exists())
        self.assertTrue((with_tmp / "bin" / "api-manager.bat").exists())
        # No tmp: `cd` failed and the wipe ran in the home itself.
        self.assertFalse((without_tmp / "sentinel.txt").exists())
        self.assertFalse((without_tmp / "bin" / "api-manager.bat").exists())
        self.assertFalse((without_tmp / "repository").exists())

    def test_a_missing_tmp_is_created_before_the_bat_runs_and_the_home_survives(self):
        workspace = Workspace(("apim-1",), wso2_shaped=True, restart={"max_retries": 0})
        self.addCleanup(workspace.close)
        self.addCleanup(kill_leftovers, workspace)
        home = workspace.homes["apim-1"]
        self.assertFalse((home / "tmp").exists())
        pipe = f"\\\\.\\pipe\\carbon-tmp-{os.getpid()}"
        launcher = self.run_launcher(workspace, pipe)
        self.wine.run(LAUNCHER, "wait-ready", "--socket", pipe, "--timeout", WAIT_S, check=True)
        self.assertEqual(self.instance_status(pipe, "apim-1")["state"], "Running")
        self.assertTrue((home / "tmp").is_dir())
        for survivor in ("sentinel.txt", "bin/api-manager.bat", "repository/conf/deployment.toml"):
            self.assertTrue((home / survivor).exists(), survivor)

        # tmp turned into a file while the launcher runs: the next start is refused, not run.
        self.wine.run(LAUNCHER, "stop", "apim-1", "--wait", "--socket", pipe, check=True)
        (home / "tmp").rmdir()
        (home / "tmp").write_text("not a folder\n")
        self.wine.run(LAUNCHER, "start", "apim-1", "--socket", pipe)
        instance = wait_until("apim-1 to give up", lambda: (lambda i: i if i["state"] == "Fatal" else None)(
            self.instance_status(pipe, "apim-1")))
        self.assertIn("is a file, not a folder", instance["last_error"])
        print(f"a start refused at run time: {instance['last_error']}", flush=True)
        self.assertEqual((home / "tmp").read_text(), "not a folder\n")
        self.assertTrue((home / "sentinel.txt").exists())
        self.assertEqual(workspace.log("apim-1").count("WSO2 Carbon started in"), 1)  # no second run
        self.assertFalse(self.sims_of(workspace))
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait(timeout=30)

    def test_tmp_as_a_file_or_a_link_is_a_configuration_error_and_nothing_starts(self):
        workspace = Workspace(("apim-1", "apim-2", "apim-3"), wso2_shaped=True)
        self.addCleanup(workspace.close)
        self.addCleanup(kill_leftovers, workspace)
        tmp = workspace.homes["apim-2"] / "tmp"
        tmp.write_text("not a folder\n")
        # A Unix symlink: Wine shows it as a folder marked FILE_ATTRIBUTE_REPARSE_POINT, as
        # Windows shows a junction; std::filesystem calls it a plain directory there.
        elsewhere = workspace.root / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "precious.txt").write_text("keep\n")
        linked_tmp = workspace.homes["apim-3"] / "tmp"
        linked_tmp.symlink_to(elsewhere, target_is_directory=True)
        result = self.wine.run(LAUNCHER, "run", "--profiles", windows_path(workspace.profiles),
                               "--state-dir", windows_path(workspace.state),
                               "--socket", f"\\\\.\\pipe\\carbon-tmpfile-{os.getpid()}", timeout=WAIT_S)
        output = result.stdout + result.stderr
        print(f"run with tmp as a file: exit {result.returncode}: {output.strip()}", flush=True)
        self.assertEqual(result.returncode, 78, output)  # EX_CONFIG
        self.assertIn(f"{windows_path(workspace.profiles)}\\apim-2.json: /home: ", output)
        self.assertIn(f"{windows_path(tmp)} is a file, not a folder", output)
        self.assertIn("create an empty folder named tmp", output)
        self.assertIn(f"{windows_path(workspace.profiles)}\\apim-3.json: /home: ", output)
        self.assertIn(f"{windows_path(linked_tmp)} is a link or junction", output)
        self.assertNotIn("apim-1.json", output)
        self.assertEqual(tmp.read_text(), "not a folder\n")
        self.assertEqual((elsewhere / "precious.txt").read_text(), "keep\n")
        for name, home in workspace.homes.items():  # not even the healthy instance was started
            self.assertTrue((home / "sentinel.txt").exists(), name)
            self.assertEqual(workspace.log(name), "", name)
        self.assertFalse((workspace.homes["apim-1"] / "tmp").exists())  # nothing was prepared
        self.assertFalse(self.sims_of(workspace))

    def test_cmd_returns_the_last_errorlevel_of_a_bat_that_ends_like_wsos(self):
        """WSO2's .bat ends with the JVM's line, `if "%ERRORLEVEL%"=="121" goto runJava`, labels and
        a `goto`, with no `exit /b`: cmd.exe /c returns the JVM's own exit code."""
        scratch = pathlib.Path(tempfile.mkdtemp(prefix="carbon-win-exit-"))
        self.addCleanup(shutil.rmtree, scratch, True)
        script = scratch / "ends-like-wso2.bat"
        script.write_text("@echo off\r\n:runJava" + wso2_shaped_bat("api-manager").split(":runJava")[1]
                          .replace(f"\"{windows_path(SIM)}\" jvm --runtime api-manager --home \"%CARBON_HOME%\" %*",
                                   "cmd /d /c exit %1"))
        self.assertIn("cmd /d /c exit %1", script.read_text())
        seen = {code: self.wine.run("cmd", "/d", "/c", windows_path(script), code).returncode
                for code in (0, 1, 7, 143)}
        print(f"cmd.exe /d /c on a WSO2-shaped ending returns: {seen}", flush=True)
        self.assertEqual(seen, {0: 0, 1: 1, 7: 7, 143: 143})

    def test_the_launcher_sees_the_jvms_exit_code_1_through_a_wso2_shaped_bat(self):
        # on-failure with quick retries: a start that fails for another reason (a port taken
        # after the plan) is retried until the simulated JVM runs and crashes as asked.
        workspace = Workspace(("apim-1",), wso2_shaped=True, restart={"delay_ms": 200, "max_retries": 10})
        self.addCleanup(workspace.close)
        self.addCleanup(kill_leftovers, workspace)
        (workspace.homes["apim-1"] / "tmp").mkdir()
        (workspace.homes["apim-1"] / "tmp" / "sim.json").write_text("{}")  # wiped at start
        (workspace.homes["apim-1"] / "sim.json").write_text('{"crash_after_ms": 300, "crash_exit_code": 1}')
        pipe = f"\\\\.\\pipe\\carbon-exit-{os.getpid()}"
        launcher = self.run_launcher(workspace, pipe)
        crash = "carbon-sim: crashing with exit code 1"

        def seen_after_the_crash():
            log = workspace.log("apim-1")
            after = log[log.find(crash):] if crash in log else ""
            return [line for line in after.splitlines() if line.startswith("[carbon-launcher]")]

        seen = wait_until("the launcher to see the crash", seen_after_the_crash)
        print(f"JVM exit 1 behind a WSO2-shaped .bat, the launcher saw: {seen[0]}", flush=True)
        self.assertRegex(seen[0], r"exit code 1\b")
        self.assertFalse((workspace.homes["apim-1"] / "tmp" / "sim.json").exists())  # the wipe ran
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait(timeout=30)

    # What netsh prints on English Windows (CRLF), and a dynamic range moved down to 1024 with the
    # labels of German Windows in its console code page (only the numbers are read).
    NETSH_DYNAMIC_DEFAULT = ("\r\nProtocol tcp Dynamic Port Range\r\n---------------------------------\r\n"
                             "Start Port      : 49152\r\nNumber of Ports : 16384\r\n\r\n")
    NETSH_DYNAMIC_FROM_1024_GERMAN = ("\r\nProtokoll tcp Dynamischer Portbereich\r\n"
                                      "---------------------------------\r\n"
                                      "Startport       : 1024\r\nAnzahl der Ports: 64511\r\n\r\n")

    @staticmethod
    def netsh_excluded(*rows):
        return ("\r\nProtocol tcp Port Exclusion Ranges\r\n\r\nStart Port    End Port\r\n"
                "----------    --------\r\n" + "".join(f"{row}\r\n" for row in rows) +
                "\r\n* - Administered port exclusions.\r\n\r\n")

    def netsh_hooks(self, dynamicport, excludedportrange):
        """The environment in which the test hooks stand these outputs in for netsh's."""
        netsh = self.workspace.root / "fake-root" / "netsh"
        netsh.mkdir(parents=True)
        (netsh / "dynamicport.txt").write_bytes(dynamicport.encode("cp850"))
        (netsh / "excludedportrange.txt").write_bytes(excludedportrange.encode("cp850"))
        return {"CARBON_LAUNCHER_TEST_HOOKS": "1", "CARBON_LAUNCHER_TEST_ROOT": windows_path(netsh.parent)}

    def check_apim_1_at_offset_0(self, dynamicport=None, excludedportrange=None):
        """`carbon-launcher.exe check` of apim-1 alone at offset 0 (its HTTPS port is 9443). With
        netsh's outputs given, the test hooks stand them in for netsh; without, netsh runs."""
        (self.workspace.profiles / "apim-2.json").unlink()
        profile_file = self.workspace.profiles / "apim-1.json"
        profile = json.loads(profile_file.read_text())
        profile["offset"] = 0
        profile_file.write_text(json.dumps(profile))
        env = self.netsh_hooks(dynamicport, excludedportrange) if dynamicport is not None else None
        result = self.wine.run(LAUNCHER, "check", "--profiles", windows_path(self.workspace.profiles),
                               "--state-dir", windows_path(self.workspace.state), env=env)
        result.stdout = result.stdout.replace("\r\n", "\n")  # the console's line ends
        print(result.stdout, flush=True)
        # check's other Windows lines: the JDK from its release file, GlobalMemoryStatusEx's memory.
        self.assertRegex(result.stdout, r"(?m)^(ok|warn)  jdk: apim-1: JDK 17\.0\.12 \(.*release\)")
        self.assertRegex(result.stdout, r"(?m)^ok    memory: the instances need about \d+ MiB .*; limit: \d+ MiB \(MemTotal\)")
        self.assertIn("memory budget (MiB)", result.stdout)
        self.assertNotRegex(result.stdout, r"(?m)^\w+ +limits:")  # no fd/thread limits on Windows
        return result

    def test_check_fails_a_planned_port_inside_an_excluded_port_range(self):
        result = self.check_apim_1_at_offset_0(
            self.NETSH_DYNAMIC_DEFAULT, self.netsh_excluded("      5357        5357", "      9400        9499"))
        self.assertEqual(result.returncode, 69, result.stdout + result.stderr)
        self.assertRegex(result.stdout, r"(?m)^fail  excluded-ports: apim-1: ports 9443 lie inside the excluded port "
                                        r"range 9400-9499 .*; fix: .*net stop winnat")
        self.assertIn("forbidden by its access permissions", result.stdout)
        self.assertRegex(result.stdout, r"(?m)^ok    ephemeral-ports: no planned port lies in the dynamic port "
                                        r"range 49152-65535 unexcluded$")

    def test_an_auto_offset_is_planned_past_an_excluded_port_range(self):
        """Hyper-V took 9400-9499 at boot: offset 0 puts 9443 there, where nothing can bind, so the
        plan skips every offset that lands a port in it, and says why."""
        (self.workspace.profiles / "apim-2.json").unlink()
        profile_file = self.workspace.profiles / "apim-1.json"
        profile_file.write_text(json.dumps(dict(json.loads(profile_file.read_text()), offset="auto")))
        env = self.netsh_hooks(self.NETSH_DYNAMIC_DEFAULT, self.netsh_excluded("      9400        9499"))
        result = self.wine.run(LAUNCHER, "plan", "--json", "--profiles", windows_path(self.workspace.profiles),
                               "--state-dir", windows_path(self.workspace.state), env=env)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        [apim] = json.loads(result.stdout)["instances"]
        print(f"auto offset beside the excluded range 9400-9499: {apim['offset']} ({apim['note']})", flush=True)
        self.assertGreaterEqual(apim["offset"], 57)  # 9443 + 57 = 9500, the first port past it
        self.assertFalse([p for p in apim["ports"] if 9400 <= p["port"] <= 9499], apim["ports"])
        self.assertRegex(apim["note"], r"^offset 0 skipped: .*excluded port range 9400-9499, where no program can bind")

    def test_check_warns_of_planned_ports_inside_the_dynamic_range_and_passes(self):
        result = self.check_apim_1_at_offset_0(
            self.NETSH_DYNAMIC_FROM_1024_GERMAN, self.netsh_excluded("     50000       50059     *"))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertRegex(result.stdout, r"(?m)^warn  ephemeral-ports: apim-1: ports [\d,-]*9443[\d,-]* lie inside the "
                                        r"dynamic port range 1024-65534 and are not excluded from it; .*"
                                        r"fix: as administrator, move the range above every planned port "
                                        r"\(netsh int ipv4 set dynamicport tcp start=49152 num=16384\)")
        self.assertRegex(result.stdout, r"(?m)^ok    excluded-ports: no planned port lies in one of the 1 excluded "
                                        r"port ranges \(1 of them administered")
        self.assertNotIn("fail  ", result.stdout)

    def test_check_without_the_hooks_runs_netsh_and_says_not_measured_under_wine(self):
        """Wine's netsh.exe is a stub: whatever it prints is no table, so nothing is guessed."""
        result = self.check_apim_1_at_offset_0()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertRegex(result.stdout, r"(?m)^ok    ephemeral-ports: the dynamic port range was not measured: "
                                        r"netsh int ipv4 show dynamicport tcp\b.+$")
        self.assertRegex(result.stdout, r"(?m)^ok    excluded-ports: the excluded port ranges were not measured: "
                                        r"netsh int ipv4 show excludedportrange protocol=tcp\b.+$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
