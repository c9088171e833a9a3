"""Split API-M deployments (4.5+) on one machine: `plan` shows the peer settings, `apply` and `run`
write them into each pack's deployment.toml, at every peer's planned offset.

The homes are simulated (carbon-sim) with the start script of each pack, and hold copies of WSO2's
real 4.7.0 deployment.toml files, copied at test time (skipped when ../shared/fixtures/real is
absent). Each simulated pack connects to the peer URLs of its deployment.toml once started and logs
the outcome (tools/SIMULATION.md F18): that is how the tests see that the wiring makes the packs
reach each other. Offsets 70-73 are used by no other test file."""
import json
import re
import shutil
import signal
import tomllib
import unittest

from support import REAL_FIXTURES, InstancesTestCase, alive, listen_on, wait_until

# name -> (start script, real fixture, offset)
PACKS = {"acp": ("api-cp", "apim-4.7.0-control-plane-deployment.toml", 70),
         "tm": ("traffic-manager", "apim-4.7.0-traffic-manager-deployment.toml", 71),
         "gw": ("gateway", "apim-4.7.0-gateway-deployment.toml", 72)}
CONFIG = "repository/conf/deployment.toml"


def flatten(node, path, out):
    """Every value of a parsed TOML file by path; arrays of tables by element."""
    if isinstance(node, dict):
        for key, value in node.items():
            flatten(value, f"{path}.{key}" if path else key, out)
    elif isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        for index, item in enumerate(node):
            flatten(item, f"{path}[{index}]", out)
    else:
        out[path] = node
    return out


def row_path(row):
    element = f"[{row['element']}]" if row["element"] is not None else ""
    return f"{row['table']}{element}.{row['key']}"


def value_at(document, row):
    node = document
    for part in row["table"].split("."):
        node = node[part]
    if row["element"] is not None:
        node = node[row["element"]]
    return node[row["key"]]


def port_of(url):
    return int(re.search(r":(\d+)(/|$)", url).group(1))


def urls_of(value):
    """The URLs of a wiring row's value (a URL, a list of them, or a bool: none)."""
    values = value if isinstance(value, list) else [value]
    return [url for url in values if isinstance(url, str)]


# "[carbon-sim] INFO - peer ok SETTING URL", "... ERROR - peer unreachable SETTING URL: why (...)"
PEER_REPORT = re.compile(r" - peer (ok|unreachable|not checked) (\S+) (\S+?)(?=: | \(|$)")


class SplitPacksTestCase(InstancesTestCase):
    """Simulated split packs with WSO2's real 4.7.0 deployment.toml files."""

    packs = PACKS

    def setUp(self):
        if not REAL_FIXTURES.is_dir():
            self.skipTest(f"real WSO2 config files not found at {REAL_FIXTURES}")
        super().setUp()
        self.originals = {}
        for name, (script, fixture, offset) in self.packs.items():
            self.add_pack(name, script, fixture, offset=offset)

    def add_pack(self, name, script, fixture, **fields):
        home = self.add(name, "api-manager", **fields)
        (home / "bin" / "api-manager.sh").rename(home / "bin" / f"{script}.sh")
        shutil.copyfile(REAL_FIXTURES / fixture, home / CONFIG)
        self.originals[name] = (home / CONFIG).read_text()
        return home


class SplitDeploymentTest(SplitPacksTestCase):
    def plan(self):
        code, plan = self.ws.plan_json()
        self.assertEqual(code, 0, plan["conflicts"])
        return {instance["name"]: instance for instance in plan["instances"]}

    def test_plan_shows_roles_peers_and_the_wiring_table(self):
        result = self.ws.launcher("plan")
        self.assertEqual(result.returncode, 0, result.stderr)
        text = result.stdout
        self.assertIn("role    gateway; connects to control plane acp; key manager acp; traffic manager tm", text)
        self.assertIn("wiring (peer settings in each deployment.toml; apply and run write them)", text)
        self.assertRegex(text, r"gw\s+gateway\s+\[apim.key_manager\] service_url\s+\(not set\)\s+"
                               r"https://localhost:9513/services/")
        self.assertRegex(text, r"acp\s+control-plane\s+\[\[apim.gateway.environment\]\] #1 https_endpoint\s+"
                               r"https://localhost:8243\s+https://localhost:8315")
        self.assertIn("the embedded H2 database inside this home", text)

        instances = self.plan()
        self.assertEqual(instances["gw"]["role"], "gateway")
        self.assertEqual(instances["gw"]["peers"], {"control_plane": "acp", "key_manager": "acp",
                                                    "traffic_managers": ["tm"], "gateways": []})
        self.assertEqual(instances["acp"]["peers"]["gateways"], ["gw"])
        rows = {row["setting"]: row for row in instances["gw"]["wiring"]}
        self.assertEqual(rows["[apim.throttling] throttle_decision_endpoints"]["wanted"], ["tcp://localhost:5743"])
        self.assertIsNone(rows["[apim.throttling] throttle_decision_endpoints"]["current"])
        self.assertEqual(rows["[apim.event_hub] enable"]["wanted"], True)
        self.assertTrue(all(row["needed"] and row["action"] == "set" for row in rows.values()))
        # Every URL names a port its peer binds, as the plan's own port list says.
        for instance in instances.values():
            for row in instance["wiring"]:
                urls = row["wanted"] if isinstance(row["wanted"], list) else [row["wanted"]]
                for index, url in enumerate(u for u in urls if isinstance(u, str)):
                    peer = instances[row["peers"][index]]
                    with self.subTest(instance=instance["name"], setting=row["setting"]):
                        self.assertIn(port_of(url), [port["port"] for port in peer["ports"]])
        # Nothing of this is written by plan.
        for name in PACKS:
            self.assertEqual((self.homes[name] / CONFIG).read_text(), self.originals[name])

    def test_apply_wires_every_pack_minimally_and_a_second_apply_changes_nothing(self):
        instances = self.plan()
        result = self.ws.launcher("apply")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("apply: 3 files changed", result.stdout)
        mtimes = {}
        for name in PACKS:
            file = self.homes[name] / CONFIG
            with self.subTest(instance=name):
                before = tomllib.loads(self.originals[name])
                after = tomllib.loads(file.read_text())
                wired = set()
                for row in instances[name]["wiring"]:
                    self.assertEqual(value_at(after, row), row["wanted"], row["setting"])
                    wired.add(row_path(row))
                self.assertTrue(wired)
                old_values, new_values = flatten(before, "", {}), flatten(after, "", {})
                for path, value in old_values.items():
                    if path not in wired:
                        self.assertEqual(new_values.get(path), value, f"{path} changed")
                self.assertEqual(set(new_values) - set(old_values) - wired, set())
                backup = file.with_name(file.name + ".carbon-launcher.orig")
                self.assertEqual(backup.read_text(), self.originals[name])
                mtimes[name] = file.stat().st_mtime_ns
        again = self.ws.launcher("apply")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("apply: 0 files changed, 3 already up to date", again.stdout)
        for name in PACKS:
            self.assertEqual((self.homes[name] / CONFIG).stat().st_mtime_ns, mtimes[name])
        for instance in self.plan().values():
            self.assertTrue(all(row["action"] == "keep" for row in instance["wiring"]), instance["wiring"])

    def test_an_invalid_connect_is_a_configuration_error_and_nothing_is_written(self):
        profile = json.loads((self.ws.profiles / "gw.json").read_text())
        profile["connect"] = {"control_plane": "acp1", "traffic_managers": ["gw"]}
        (self.ws.profiles / "gw.json").write_text(json.dumps(profile))
        for command in ("plan", "apply"):
            result = self.ws.launcher(command)
            self.assertEqual(result.returncode, 78, result.stdout + result.stderr)
            self.assertIn('gw.json: /connect/control_plane: no instance named "acp1"; did you mean "acp"?; '
                          "name a control plane (bin/api-cp.sh): acp", result.stderr)
            self.assertIn('gw.json: /connect/traffic_managers/0: "gw" is this instance itself', result.stderr)
        for name in PACKS:
            self.assertEqual((self.homes[name] / CONFIG).read_text(), self.originals[name])

    def test_a_peer_on_another_host_is_left_alone_and_reported(self):
        file = self.homes["gw"] / CONFIG
        text = self.originals["gw"].replace(
            '#[apim.key_manager]\n#service_url = "https://localhost:9443/services/"',
            '[apim.key_manager]\nservice_url = "https://km.example.com:9443/services/"')
        file.write_text(text)
        self.originals["gw"] = text
        result = self.ws.launcher("plan")
        self.assertIn("[apim.key_manager] service_url = https://km.example.com:9443/services/: it points at "
                      "km.example.com, not this machine; left alone", result.stdout)
        self.assertEqual(self.ws.launcher("apply").returncode, 0)
        self.assertEqual(tomllib.loads(file.read_text())["apim"]["key_manager"]["service_url"],
                         "https://km.example.com:9443/services/")

    def test_run_wires_before_spawning_and_starts_the_control_plane_first(self):
        launcher = self.launch()
        running = {name: launcher.wait_for(rf"{name}: Starting -> Running", 60) for name in PACKS}
        starting = {name: launcher.wait_for(rf"{name}: Stopped -> Starting", 1) for name in PACKS}
        self.assertLess(running["acp"], starting["tm"])
        self.assertLess(running["acp"], starting["gw"])
        self.assertLess(running["tm"], starting["gw"])
        gateway = tomllib.loads((self.homes["gw"] / CONFIG).read_text())
        self.assertEqual(gateway["apim"]["event_hub"]["event_listening_endpoints"], ["tcp://localhost:5742"])
        self.assertEqual(gateway["apim"]["throttling"]["url_group"][0]["traffic_manager_urls"],
                         ["tcp://localhost:9682"])
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)

    def test_a_reload_after_a_peer_moves_rewires_and_restarts_only_its_users(self):
        launcher = self.launch()
        for name in PACKS:
            launcher.wait_for(rf"{name}: Starting -> Running", 60)
        profile = json.loads((self.ws.profiles / "tm.json").read_text())
        profile["offset"] = 73
        (self.ws.profiles / "tm.json").write_text(json.dumps(profile))
        mark = len(launcher.lines)
        launcher.signal(signal.SIGHUP)
        launcher.wait_for(r"gw: Starting -> Running", 60, mark)
        launcher.wait_for(r"tm: Starting -> Running", 60, mark)
        self.assertTrue(wait_until(lambda: "tcp://localhost:5745" in (self.homes["gw"] / CONFIG).read_text()))
        self.assertEqual(launcher.count(r"acp: \w+ -> \w+"), 2)  # its first start only
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)


class PeerConnectionTest(SplitPacksTestCase):
    """A control plane, a traffic manager and two gateways under `run`: each simulated pack connects
    to the peer URLs its deployment.toml holds (F18). Wired by the launcher, every connection
    succeeds; with "connect": false (the operator wires by hand, and here does not) the packs keep
    their shipped settings, which point at the unshifted default ports, and report every other pack
    unreachable."""

    packs = {**PACKS, "gw2": ("gateway", "apim-4.7.0-gateway-deployment.toml", 73)}
    maxDiff = None

    def wiring_rows(self):
        """{name: the wiring rows of the plan, for the settings that hold URLs}"""
        code, plan = self.ws.plan_json()
        self.assertEqual(code, 0, plan["conflicts"])
        return {instance["name"]: [row for row in instance["wiring"] if urls_of(row["wanted"])]
                for instance in plan["instances"]}

    def peer_reports(self, name):
        """{(setting, url): outcome} from the pack's captured output."""
        log = self.ws.state / "logs" / f"{name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return {(match.group(2), match.group(3)): match.group(1)
                for match in map(PEER_REPORT.search, text.splitlines()) if match}

    def reports_for(self, expected):
        """Every pack's reports once each has reported all of its `expected` settings, or None."""
        reports = {name: self.peer_reports(name) for name in expected}
        done = all(set(expected[name]) <= set(reports[name]) for name in expected)
        return reports if done else None

    def run_until_reported(self, expected, timeout):
        launcher = self.launch()
        for name in self.packs:
            launcher.wait_for(rf"{name}: Starting -> Running", 30)
        reports = wait_until(lambda: self.reports_for(expected), timeout=timeout, step=0.1)
        for name in self.packs:  # what a pack could not reach did not stop it
            self.assertTrue(alive(self.jvm(name)), f"{name}'s JVM is gone")
        launcher.signal(signal.SIGTERM)
        self.assertEqual(launcher.wait_exit(), 0)
        self.assertIsNotNone(reports, {name: self.peer_reports(name) for name in expected})
        return reports

    def test_wired_packs_reach_every_peer(self):
        rows = self.wiring_rows()
        expected = {name: {(row_path(row), url) for row in rows[name] for url in urls_of(row["wanted"])}
                    for name in self.packs}
        self.assertEqual(len(expected["gw"]), 7)  # key manager 1, traffic manager 4, event hub 2
        reports = self.run_until_reported(expected, timeout=15)
        for name in self.packs:
            with self.subTest(instance=name):
                # The sim read exactly the settings the launcher wired, and reached every one.
                self.assertEqual(reports[name], {key: "ok" for key in expected[name]})

    def test_without_wiring_the_packs_cannot_reach_their_peers(self):
        rows = self.wiring_rows()  # what the launcher would wire: the settings each pack reads
        defaults = [9443, 8243, 8280, 9099, 8099, 9021, 8021, 5672, 9611, 9711]
        busy = [port for port in defaults if not self.port_free(port)]
        if busy:
            self.skipTest(f"default ports {busy} are in use on this host: their owner would answer")
        for name in self.packs:
            profile = json.loads((self.ws.profiles / f"{name}.json").read_text())
            profile["connect"] = False  # the operator wires by hand: the launcher writes nothing
            (self.ws.profiles / f"{name}.json").write_text(json.dumps(profile))
            sim = json.loads((self.homes[name] / "sim.json").read_text())
            (self.homes[name] / "sim.json").write_text(json.dumps({**sim, "peer_give_up_ms": 2000}))
        # Each setting keeps its shipped value, or the pack's default when it is commented out:
        # either way localhost at the peer's unshifted port, where no pack listens.
        expected = {name: {} for name in self.packs}
        for name in self.packs:
            for row in rows[name]:
                for index, url in enumerate(urls_of(row["wanted"])):
                    offset = self.packs[row["peers"][index]][2]
                    shipped = url.replace(f":{port_of(url)}", f":{port_of(url) - offset}")
                    expected[name][(row_path(row), shipped)] = "unreachable"
        reports = self.run_until_reported(expected, timeout=15)
        for name in self.packs:
            with self.subTest(instance=name):
                self.assertEqual(reports[name], expected[name])
                self.assertEqual((self.homes[name] / CONFIG).read_text(), self.originals[name])

    @staticmethod
    def port_free(port):
        sock = listen_on(port)
        if sock is None:
            return False
        sock.close()
        return True


if __name__ == "__main__":
    unittest.main()
