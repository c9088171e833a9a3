"""The Ansible role of `carbon-launcher export ansible` on a fleet of two hosts (issue 18).

Each host is a boot of tests/systemd/harness.py's Debian 12 root, with systemd as PID 1 in private
namespaces (the harness of e2e_systemd_pid1, imported, not copied). Ansible reaches them through
connection_plugins/carbon_nsenter.py (nsenter into the boot's PID 1). The play is the exported
site.yml, unchanged; the inventory gives the two hosts different profiles. The role installs the
project's .deb (made by test_service's setUpModule), so both hosts start without carbon-launcher.

The tests of FleetTest share the two boots and run in order, each from where the previous one
left the fleet: first play, second play (no change), --check of a profile change (changes
nothing), the change itself (one instance restarts), and a profile that conflicts on one host."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "systemd"))
sys.path.insert(0, str(HERE.parent / "e2e"))
import harness  # noqa: E402
import support  # noqa: E402  (the control protocol's client)
import test_service  # noqa: E402  (its setUpModule makes the .deb; its simulated homes' constants)

BUILD = harness.build_dir()
LAUNCHER = BUILD / "bin" / "carbon-launcher"
SHIPPED = harness.REPO / "packaging" / "ansible"
CONNECTION_PLUGINS = HERE / "connection_plugins"
PLAY_TIMEOUT_S = 300
# A process of host-b's own that holds API-M's HTTPS port at offset 0, started before the first
# play: host-b's launcher must plan around it, host-a's has no such process.
FOREIGN_PORT = 9443
FOREIGN_UNIT = "foreign-listener.service"
FOREIGN_LISTENER = ("import socket, time\n"
                    "s = socket.socket()\n"
                    f"s.bind(('127.0.0.1', {FOREIGN_PORT}))\n"
                    "s.listen()\n"
                    "time.sleep(3600)\n")
HOSTS = {"host-a": {"apim-1": "api-manager", "si-1": "streaming-integrator"},
         "host-b": {"apim-1": "api-manager", "apim-2": "api-manager"}}
# Homes laid out on host-b for the profiles that test_5 adds.
SPARE_HOMES = {"host-b": {"apim-3": "api-manager", "apim-4": "api-manager"}}
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def ansible_playbook():
    return shutil.which("ansible-playbook")


def controller_python():
    """Debian's Python of this machine (the one Debian's ansible runs on): /usr/bin/python3.X and
    /usr/lib/python3.X, or None."""
    binary = pathlib.Path(os.path.realpath("/usr/bin/python3"))
    stdlib = pathlib.Path("/usr/lib") / binary.name
    return (binary, stdlib) if binary.name.startswith("python3.") and (stdlib / "os.py").exists() else None


def export(out_dir):
    return subprocess.run([str(LAUNCHER), "export", "ansible", "--out", str(out_dir)], capture_output=True,
                          text=True, timeout=60)


def shipped_files():
    return sorted(str(path.relative_to(SHIPPED)) for path in SHIPPED.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts)


@unittest.skipUnless(LAUNCHER.exists(), f"needs the built launcher ({LAUNCHER})")
class ExportTest(unittest.TestCase):
    """`export ansible` writes the shipped files; a second export replaces the role and keeps the
    operator's playbook, inventory and host_vars."""

    def setUp(self):
        self.out = pathlib.Path(tempfile.mkdtemp(prefix="carbon-ansible-export-")) / "fleet"
        self.addCleanup(shutil.rmtree, self.out.parent, ignore_errors=True)

    def test_export_writes_the_role_and_keeps_the_operators_files(self):
        first = export(self.out)
        self.assertEqual(first.returncode, 0, first.stderr)
        for relative in shipped_files():
            self.assertEqual((self.out / relative).read_bytes(), (SHIPPED / relative).read_bytes(), relative)
            self.assertIn(f"{self.out / relative}: written", first.stdout)
        self.assertIn(f"ansible-playbook -i {self.out}/inventory.yml {self.out}/site.yml --check --diff",
                      first.stdout)

        (self.out / "inventory.yml").write_text("wso2:\n  hosts:\n    mine:\n")
        tasks = self.out / "roles/carbon_launcher/tasks/main.yml"
        tasks.write_text("# edited\n")
        again = export(self.out)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn(f"{self.out / 'inventory.yml'}: kept (yours)", again.stdout)
        self.assertEqual((self.out / "inventory.yml").read_text(), "wso2:\n  hosts:\n    mine:\n")
        self.assertIn(f"{tasks}: updated", again.stdout)
        self.assertEqual(tasks.read_bytes(), (SHIPPED / "roles/carbon_launcher/tasks/main.yml").read_bytes())
        self.assertIn(f"{self.out / 'site.yml'}: kept (yours)", again.stdout)
        self.assertIn(f"{self.out / 'roles/carbon_launcher/defaults/main.yml'}: unchanged", again.stdout)

    @unittest.skipUnless(ansible_playbook(), "needs ansible-playbook (apt-get install ansible-core)")
    def test_exported_playbook_passes_ansibles_syntax_check(self):
        self.assertEqual(export(self.out).returncode, 0)
        checked = subprocess.run([ansible_playbook(), "--syntax-check", "-i", "inventory.yml", "site.yml"],
                                 cwd=self.out, capture_output=True, text=True, timeout=120,
                                 env=ansible_environment(self.out.parent))
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)


def ansible_environment(scratch):
    """ansible-playbook's environment: this test's connection plugin, no configuration of the
    machine's or the user's, its own temp folders, plain output."""
    config = scratch / "ansible.cfg"
    config.write_text("")
    return dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_HOME=str(scratch / "ansible-home"),
                ANSIBLE_LOCAL_TEMP=str(scratch / "ansible-tmp"), ANSIBLE_CONNECTION_PLUGINS=str(CONNECTION_PLUGINS),
                ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_STDOUT_CALLBACK="default",
                ANSIBLE_DEPRECATION_WARNINGS="False", PYTHONDONTWRITEBYTECODE="1")


def lend_python(system, python):
    """The controller's Python, read-only in the booted root. Ansible needs a Python on every
    managed host, and the harness's root is a minbase without one (shared with e2e_systemd_pid1,
    it is kept as it is). The interpreter and its standard library are bind-mounted at their own
    paths inside the boot's mount namespace; the few shared libraries the root lacks are copied
    in (a real Debian host has all of this from its python3 package)."""
    binary, stdlib = python
    system.path(binary).touch()
    system.path(stdlib).mkdir(parents=True, exist_ok=True)
    system.path("/usr/bin/python3").symlink_to(binary.name)
    for source in (binary, stdlib):
        # Mounted inside the boot's mount namespace, where its root is mounted at system.merged.
        subprocess.run(["nsenter", "-t", str(system.pid1), "-m", "mount", "--bind", "-o", "ro", str(source),
                        f"{system.merged}{source}"], check=True, timeout=30, capture_output=True)
    for library in python_libraries(python):
        inside = system.path(library)
        if not inside.exists():
            shutil.copy2(os.path.realpath(library), inside)


_libraries = None


def python_libraries(python):
    """The shared libraries the interpreter and its extension modules load (ldd), once."""
    global _libraries
    if _libraries is None:
        binary, stdlib = python
        found = set()
        for elf in [binary, *sorted((stdlib / "lib-dynload").glob("*.so"))]:
            ldd = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, timeout=30)
            for line in ldd.stdout.splitlines():
                if "=>" in line and "not found" not in line:
                    path = line.split("=>")[1].split("(")[0].strip()
                    if path.startswith("/"):
                        found.add(path)
        _libraries = sorted(found)
    return _libraries


class Host:
    """One booted root playing a managed host, with its simulated packs laid out and nothing of
    carbon-launcher installed."""

    def __init__(self, name, instances):
        self.name = name
        self.instances = instances
        self.system = harness.System(BUILD)
        self.foreign_pid = None  # as seen inside

    def boot(self, python):
        self.system.boot()
        lend_python(self.system, python)
        jdk = self.system.path(f"{test_service.SIM_JDK}/bin")
        jdk.mkdir(parents=True)
        self.system.path(f"{test_service.SIM_JDK}/release").write_text(test_service.SIM_JDK_RELEASE)
        for name, runtime in {**self.instances, **SPARE_HOMES.get(self.name, {})}.items():
            home = f"{test_service.HOMES}/{name}"
            subprocess.run([str(test_service.MAKE_SIM_HOME), runtime, str(self.system.path(home)),
                            test_service.SIM_INSIDE], check=True, timeout=60, capture_output=True)
            self.system.path(f"{home}/sim.json").write_text(json.dumps({"start_delay_ms": 150, "stop_delay_ms": 150}))

    def profiles(self, **extra):
        profiles = {name: {"runtime": runtime, "home": f"{test_service.HOMES}/{name}",
                           "java_home": test_service.SIM_JDK, "stop_timeout_s": 10,
                           "env": {"JAVA_OPTS": test_service.SIM_JAVA_OPTS},
                           "restart": {"delay_ms": 200, "max_delay_ms": 2000, "max_retries": 3}}
                    for name, runtime in self.instances.items()}
        profiles.update(extra)
        return profiles

    def hold_port(self, port_program):
        """A process of this host's own (a transient unit) listening where an instance would."""
        self.system.run("systemd-run", "--unit", FOREIGN_UNIT, "/usr/bin/python3", "-c", port_program)
        harness.wait_for(lambda: FOREIGN_PORT in self.system.listening_ports(), 10, f"{self.name}: port {FOREIGN_PORT}")
        self.foreign_pid = int(self.system.unit_property(FOREIGN_UNIT, "MainPID"))

    def end_foreign_process(self):
        if self.foreign_pid:
            self.system.run("sh", "-c", f"kill {self.foreign_pid}", check=False)
            self.foreign_pid = None

    def status(self):
        """{name: instance} of the host's launcher, asked through its control socket (the booted
        root's, reached through /proc/PID/root) rather than by starting a CLI inside."""
        shown = support.control_status(self.system.path("/run/carbon-launcher/control.sock"))
        return {i["name"]: i for i in shown["instances"]}

    def jvm_pids(self):
        return {name: i["jvm_pid"] for name, i in self.status().items()}

    def live_profiles(self):
        folder = self.system.path("/etc/carbon-launcher/profiles")
        return {p.stem: p.read_text() for p in sorted(folder.glob("*.json"))}


class Play:
    def __init__(self, done, seconds):
        self.rc = done.returncode
        self.output = done.stdout + done.stderr
        self.seconds = seconds
        self.recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
                      for m in RECAP.findall(done.stdout)}

    def __str__(self):
        return f"ansible-playbook exited {self.rc} after {self.seconds:.1f} s:\n{self.output[-6000:]}"


class FleetTest(unittest.TestCase):
    hosts = {}
    timings = {}

    @classmethod
    def setUpClass(cls):
        if harness.why_unavailable(BUILD):
            raise unittest.SkipTest(harness.why_unavailable(BUILD))
        if not ansible_playbook():
            raise unittest.SkipTest("needs ansible-playbook (apt-get install ansible-core; scripts/install-deps.sh)")
        python = controller_python()
        if not python:
            raise unittest.SkipTest("needs Debian's python3 in /usr/bin (the managed hosts borrow it)")
        started = time.monotonic()
        test_service.setUpModule()  # the project's .deb (SkipTest without cpack)
        cls.timings["the .deb (cpack)"] = time.monotonic() - started
        cls.scratch = pathlib.Path(tempfile.mkdtemp(prefix="carbon-ansible-"))
        cls.addClassCleanup(shutil.rmtree, cls.scratch, ignore_errors=True)
        cls.fleet = cls.scratch / "fleet"
        exported = export(cls.fleet)
        if exported.returncode != 0:
            raise AssertionError(f"export ansible failed:\n{exported.stdout}{exported.stderr}")
        started = time.monotonic()
        for name, instances in HOSTS.items():
            host = Host(name, instances)
            cls.addClassCleanup(host.system.close)
            cls.addClassCleanup(host.end_foreign_process)
            host.boot(python)
            cls.hosts[name] = host
        cls.hosts["host-b"].hold_port(FOREIGN_LISTENER)
        cls.timings["boot both hosts"] = time.monotonic() - started
        cls.write_inventory()
        cls.host_vars = {name: host.profiles() for name, host in cls.hosts.items()}
        cls.write_host_vars()

    @classmethod
    def tearDownClass(cls):
        for what, seconds in cls.timings.items():
            print(f"  {what}: {seconds:.1f} s", file=sys.stderr)

    @classmethod
    def write_inventory(cls):
        inventory = {"wso2": {
            "hosts": {name: {"ansible_host": host.system.pid1} for name, host in cls.hosts.items()},
            "vars": {"ansible_connection": "carbon_nsenter", "ansible_python_interpreter": "/usr/bin/python3",
                     "ansible_become": False, "carbon_launcher_deb": str(test_service.DEB)}}}
        (cls.fleet / "inventory.yml").write_text(json.dumps(inventory, indent=2))
        (cls.scratch / "facts").mkdir(exist_ok=True)
        for example in (cls.fleet / "host_vars").glob("*.yml"):
            example.unlink()

    @classmethod
    def write_host_vars(cls):
        for name, profiles in cls.host_vars.items():
            (cls.fleet / "host_vars" / f"{name}.yml").write_text(json.dumps({"carbon_launcher_profiles": profiles}))

    def play(self, *options, label):
        started = time.monotonic()
        done = subprocess.run([ansible_playbook(), "-i", "inventory.yml", "site.yml", *options], cwd=self.fleet,
                              capture_output=True, text=True, timeout=PLAY_TIMEOUT_S,
                              env=ansible_environment(self.scratch))
        played = Play(done, time.monotonic() - started)
        self.timings[label] = played.seconds
        return played

    def with_facts(self):
        """The play's option that writes each host's plan on the controller, as facts/HOST.json."""
        return ["-e", f"carbon_launcher_facts_dir={self.scratch / 'facts'}"]

    def assert_fleet_runs_its_plan(self, played_on):
        """Both services active, every instance Running on the offset its host's launcher chose,
        each port held by that instance's JVM, and the facts written by the play on `played_on`
        saying the same."""
        offsets = {}
        for name, host in self.hosts.items():
            self.assertEqual(host.system.unit_property("carbon-launcher.service", "ActiveState"), "active", name)
            status = host.status()
            self.assertEqual(sorted(status), sorted(host.instances), name)
            owners = host.system.port_owners()
            for instance in status.values():
                self.assertEqual(instance["state"], "Running", f"{name} {instance['name']}")
                for port in instance["ports"]:
                    self.assertEqual(owners.get(port["port"]), instance["jvm_pid"],
                                     f"{name} {instance['name']} {port}")
            offsets[name] = {n: i["offset"] for n, i in status.items()}
            if name in played_on:
                facts = json.loads((self.scratch / "facts" / f"{name}.json").read_text())
                self.assertEqual(facts["host"], name)
                def essentials(instance):
                    return instance["offset"], [port["port"] for port in instance["ports"]], instance["urls"]

                self.assertEqual({i["name"]: essentials(i) for i in facts["instances"]},
                                 {n: essentials(i) for n, i in status.items()})
        return offsets

    def test_1_first_play_installs_and_starts_each_host_on_its_own_offsets(self):
        played = self.play(*self.with_facts(), label="first play")
        self.assertEqual(played.rc, 0, played)
        for name in self.hosts:
            self.assertEqual(played.recap[name]["failed"], 0, played)
            self.assertGreater(played.recap[name]["changed"], 0, played)
        offsets = self.assert_fleet_runs_its_plan(played_on=self.hosts)
        # The same profile, planned by each host's own launcher: host-b's port 9443 is taken.
        self.assertEqual(offsets["host-a"]["apim-1"], 0, offsets)
        self.assertNotEqual(offsets["host-b"]["apim-1"], 0, offsets)
        self.assertRegex(played.output, r"apim-1 \(api-manager\): offset \d+, auto")
        # The second play of site.yml read every host's plan back as a fact.
        self.assertIn(f"https://localhost:{9443 + offsets['host-b']['apim-1']}/publisher", played.output)

    def test_2_second_play_changes_nothing(self):
        before = {name: host.jvm_pids() for name, host in self.hosts.items()}
        played = self.play(label="second play")
        self.assertEqual(played.rc, 0, played)
        for name in self.hosts:
            self.assertEqual(played.recap[name]["changed"], 0, played)
            self.assertEqual(played.recap[name]["failed"], 0, played)
        self.assertEqual({name: host.jvm_pids() for name, host in self.hosts.items()}, before)

    def test_3_check_mode_shows_the_diff_and_changes_nothing(self):
        before = {name: (host.jvm_pids(), host.live_profiles()) for name, host in self.hosts.items()}
        self.host_vars["host-a"]["si-1"]["env"]["FLEET_CHANGE"] = "1"
        self.write_host_vars()
        played = self.play("--check", "--diff", "--limit", "host-a", label="--check --diff")
        self.assertEqual(played.rc, 0, played)
        self.assertRegex(played.output, r'\+\s+"FLEET_CHANGE": "1"')
        self.assertGreater(played.recap["host-a"]["changed"], 0, played)
        self.assertRegex(played.output, r"si-1 \(streaming-integrator\): offset \d+, sticky")
        self.assertIn("apply: 0 files would change", played.output)  # apply --dry-run on the wanted profiles
        self.assertEqual({name: (host.jvm_pids(), host.live_profiles()) for name, host in self.hosts.items()}, before)

    def test_4_a_profile_change_restarts_only_that_instance(self):
        before = {name: host.jvm_pids() for name, host in self.hosts.items()}
        played = self.play("--limit", "host-a", *self.with_facts(), label="one profile changed")
        self.assertEqual(played.rc, 0, played)
        self.assertIn("restarted si-1", played.output)
        after = {name: host.jvm_pids() for name, host in self.hosts.items()}
        self.assertNotEqual(after["host-a"]["si-1"], before["host-a"]["si-1"])
        self.assertEqual(after["host-a"]["apim-1"], before["host-a"]["apim-1"])
        self.assertEqual(after["host-b"], before["host-b"])
        self.assertIn("FLEET_CHANGE", self.hosts["host-a"].live_profiles()["si-1"])
        self.assert_fleet_runs_its_plan(played_on=["host-a"])

    def test_5_a_conflicting_profile_fails_that_host_only(self):
        host_b = self.hosts["host-b"]
        before = {name: (host.jvm_pids(), host.live_profiles()) for name, host in self.hosts.items()}
        # Two instances on the same explicit offset: the launcher's plan refuses them before
        # anything live is touched.
        clash = {name: {**self.host_vars["host-b"]["apim-2"], "home": f"{test_service.HOMES}/{name}",
                        "offset": 7} for name in ("apim-3", "apim-4")}
        self.host_vars["host-b"].update(clash)
        self.write_host_vars()
        played = self.play("--limit", "host-b", label="two instances on one offset")
        self.assertNotEqual(played.rc, 0, played)
        self.assertEqual(played.recap["host-b"]["failed"], 1, played)
        self.assertIn("Refused by carbon-launcher on this host", played.output)
        self.assertRegex(played.output, r"apim-4 at offset 7 .*apim-3|apim-3 at offset 7 .*apim-4")
        self.assertEqual({name: (host.jvm_pids(), host.live_profiles()) for name, host in self.hosts.items()}, before)

        # An explicit offset whose port another process of that host holds: the plan made beside
        # the running service sees that holder (and not the service's own JVMs) and refuses it
        # before anything is written.
        for name in clash:
            del self.host_vars["host-b"][name]
        self.host_vars["host-b"]["apim-3"] = {**self.host_vars["host-b"]["apim-2"],
                                              "home": f"{test_service.HOMES}/apim-3", "offset": 0}
        self.write_host_vars()
        played = self.play(label="a port held on one host")
        self.assertNotEqual(played.rc, 0, played)
        self.assertEqual(played.recap["host-a"]["failed"], 0, played)
        self.assertEqual(played.recap["host-b"]["failed"], 1, played)
        self.assertIn("Refused by carbon-launcher on this host", played.output)
        self.assertRegex(played.output, rf"{FOREIGN_PORT} \(.*\) of apim-3 at offset 0 is held by ")
        self.assertNotRegex(played.output, r"of apim-[12] at offset \d+ is held by")  # its own JVMs
        self.assertEqual({name: (host.jvm_pids(), host.live_profiles()) for name, host in self.hosts.items()}, before)
        self.assertEqual(host_b.system.unit_property("carbon-launcher.service", "ActiveState"), "active")


if __name__ == "__main__":
    # ctest runs this file: when the fleet could not run (no root, no Debian root, no Ansible),
    # exit 77, which the ctest entry's SKIP_RETURN_CODE reports as "Skipped", with the reason above.
    result = unittest.main(exit=False, verbosity=2).result
    if not result.wasSuccessful():
        sys.exit(1)
    fleet_skipped = any("FleetTest" in str(test) for test, _ in result.skipped)
    sys.exit(77 if fleet_skipped else 0)
