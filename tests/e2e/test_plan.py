"""`carbon-launcher plan` end to end: the built binary over fake homes, with real sockets."""
import os
import unittest

from support import Workspace, listen_on


def effective_ports(plan):
    ports = []
    for instance in plan["instances"]:
        ports += [p["port"] for p in instance["ports"]]
    return ports


class PlanTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        for i in (1, 2, 3):
            self.ws.add_instance(f"apim-{i}", "api-manager")
        self.ws.add_instance("si", "streaming-integrator")
        self.ws.add_instance("tooling", "si-tooling")

    def tearDown(self):
        self.ws.close()

    def test_five_instances_get_distinct_ports(self):
        code, plan = self.ws.plan_json()
        self.assertEqual(code, 0, plan["conflicts"])
        self.assertEqual(plan["schema"], "carbon-launcher/plan/v1")
        self.assertEqual([i["name"] for i in plan["instances"]], ["apim-1", "apim-2", "apim-3", "si", "tooling"])
        ports = effective_ports(plan)
        self.assertEqual(len(ports), len(set(ports)), "two instances share a port")
        offsets = [i["offset"] for i in plan["instances"]]
        self.assertEqual(len(offsets), len(set(offsets)))
        apim = plan["instances"][0]
        self.assertEqual(apim["argv"][1], f"-DportOffset={apim['offset']}")
        si = plan["instances"][3]
        self.assertEqual(si["config_edits"][0]["setting"], "wso2.carbon.ports.offset")
        self.assertEqual(si["config_edits"][0]["wanted"], str(si["offset"]))
        tooling = plan["instances"][4]
        self.assertIn({"name": "Editor", "url": f"http://localhost:{9387 + tooling['offset']}/editor"},
                      tooling["urls"])

    def test_a_port_held_by_the_test_moves_the_instance_and_names_the_pid(self):
        _, before = self.ws.plan_json()
        first = before["instances"][0]
        https = next(p["port"] for p in first["ports"] if p["key"] == "https-servlet")
        holder = listen_on(https)
        if holder is None:
            self.skipTest(f"port {https} is busy on this host")
        try:
            code, after = self.ws.plan_json()
            text = self.ws.launcher("plan").stdout
        finally:
            holder.close()
        self.assertEqual(code, 0, after["conflicts"])
        moved = after["instances"][0]
        self.assertNotEqual(moved["offset"], first["offset"])
        self.assertNotIn(https, effective_ports(after))
        self.assertIn(f"pid {os.getpid()} (python3", moved["note"])
        self.assertIn(f"is held by pid {os.getpid()}", text)

    def test_an_explicit_offset_on_a_held_port_is_a_conflict_with_exit_69(self):
        self.ws.add_instance("apim-1", "api-manager", offset=40)
        holder = listen_on(9443 + 40)
        if holder is None:
            self.skipTest("port 9483 is busy on this host")
        try:
            result = self.ws.launcher("plan")
        finally:
            holder.close()
        self.assertEqual(result.returncode, 69, result.stdout + result.stderr)
        self.assertIn(f"9483 (HTTPS servlet (Publisher, DevPortal, Admin, Carbon console)) of apim-1 at offset 40 "
                      f"is held by pid {os.getpid()}", result.stdout)

    def test_two_sis_collide_on_fixed_ports(self):
        self.ws.add_instance("si-2", "streaming-integrator")
        result = self.ws.launcher("plan")
        self.assertEqual(result.returncode, 69)
        self.assertIn("7070 (Store query API HTTP) of si-2", result.stdout)
        self.assertIn("no offset solves it", result.stdout)

    def test_sticky_offsets_from_the_state_dir(self):
        (self.ws.state / "offsets.json").write_text('{"version": 1, "offsets": {"apim-3": 30}}')
        code, plan = self.ws.plan_json()
        self.assertEqual(code, 0)
        apim3 = plan["instances"][2]
        self.assertEqual((apim3["offset"], apim3["offset_source"]), (30, "sticky"))

    def test_bad_profiles_exit_78_with_every_error(self):
        (self.ws.profiles / "bad.json").write_text('{"name": "Bad Name", "runtime": "api-manger", "home": "/nope"}')
        result = self.ws.launcher("plan")
        self.assertEqual(result.returncode, 78)
        self.assertEqual(result.stdout, "")
        errors = result.stderr.splitlines()
        self.assertTrue(all(line.startswith("carbon-launcher: error: ") for line in errors))
        self.assertTrue(any("bad.json: /name" in line for line in errors))
        self.assertTrue(any('bad.json: /runtime: unknown runtime "api-manger"; did you mean "api-manager"' in line
                            for line in errors))
        self.assertTrue(any("bad.json: /home" in line for line in errors))


class CliTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.close()

    def test_version_help_and_usage_errors(self):
        self.assertRegex(self.ws.launcher("--version", check=True).stdout, r"^carbon-launcher \d+\.\d+\.\d+")
        self.assertIn("plan", self.ws.launcher("--help", check=True).stdout)
        self.assertIn("examples:", self.ws.launcher("plan", "--help", check=True).stdout)
        wrong = self.ws.launcher("paln")
        self.assertEqual(wrong.returncode, 64)
        self.assertIn('did you mean "plan"?', wrong.stderr)
        self.assertEqual(self.ws.launcher("plan", "--bogus").returncode, 64)
        misspelt = self.ws.launcher("status", "--sokcet", "x")
        self.assertEqual(misspelt.returncode, 64)
        self.assertIn("unrecognised option '--sokcet'; did you mean \"--socket\"?", misspelt.stderr)

    def test_ports_prints_the_tables(self):
        text = self.ws.launcher("ports", "si-tooling", check=True).stdout
        self.assertIn("9387  HTTP transport (editor)", text)
        self.assertIn("shipped offset 3", text)
        self.assertEqual(self.ws.launcher("ports", "apim").returncode, 64)


if __name__ == "__main__":
    unittest.main()
