"""`carbon-launcher check` end to end, on a faked /proc (CARBON_LAUNCHER_TEST_ROOT): the memory
budget, the ephemeral range with `export sysctl`, the JDK range, and `run` refusing on a failure."""
import json
import os
import re
import subprocess
import unittest

from support import LAUNCHER, Workspace, make_sim_jdk

GIB_KB = 1024 * 1024


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.fake_root = self.ws.root / "fake-root"
        self.fake_proc(mem_total_kb=64 * GIB_KB, ephemeral="32768\t60999", reserved="")

    def tearDown(self):
        self.ws.close()

    def fake_proc(self, mem_total_kb, ephemeral, reserved):
        proc = self.fake_root / "proc"
        (proc / "sys/net/ipv4").mkdir(parents=True, exist_ok=True)
        (proc / "meminfo").write_text(f"MemTotal: {mem_total_kb} kB\nMemAvailable: {mem_total_kb} kB\n")
        (proc / "sys/net/ipv4/ip_local_port_range").write_text(ephemeral + "\n")
        (proc / "sys/net/ipv4/ip_local_reserved_ports").write_text(reserved + "\n")

    def add_apim(self, name, version="4.4.0", jdk_version=None, **fields):
        if jdk_version:
            jdk = self.ws.root / f"jdk-{jdk_version}"
            make_sim_jdk(jdk)
            (jdk / "release").write_text(f'JAVA_VERSION="{jdk_version}"\n')
            fields["java_home"] = str(jdk)
        home = self.ws.add_instance(name, "api-manager", **fields)
        (home / "bin/version.txt").write_text(f"WSO2 API Manager-{version}\n")
        return home

    def launcher(self, *args):
        env = dict(os.environ, CARBON_LAUNCHER_TEST_HOOKS="1", CARBON_LAUNCHER_TEST_ROOT=str(self.fake_root))
        command = [LAUNCHER, *args, "--profiles", str(self.ws.profiles), "--state-dir", str(self.ws.state)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)

    def test_three_heaps_that_overflow_memory_fail_with_a_table_that_sums_to_the_total(self):
        for name in ("apim-1", "apim-2", "apim-3"):
            self.add_apim(name, env={"JAVA_OPTS": "-Xms2g -Xmx4g"})
        self.fake_proc(mem_total_kb=16 * GIB_KB, ephemeral="32768\t60999", reserved="")
        result = self.launcher("check")
        self.assertEqual(result.returncode, 69, result.stdout + result.stderr)
        self.assertRegex(result.stdout, r"(?m)^fail  memory: the instances need about 19200 MiB")
        self.assertIn("limit: 16384 MiB (MemTotal)", result.stdout)
        rows = re.findall(r"(?m)^  (apim-\d)\s+(\d+) JAVA_OPTS\s+(\d+)\s+(\d+)\s+(\d+)$", result.stdout)
        self.assertEqual(len(rows), 3, result.stdout)
        for _, heap, non_heap, diagnostics, total in rows:
            self.assertEqual((int(heap), int(non_heap), int(diagnostics)), (4096, 2048, 256))
            self.assertEqual(int(total), int(heap) + int(non_heap) + int(diagnostics))
        total = int(re.search(r"(?m)^  total\s+(\d+)$", result.stdout).group(1))
        self.assertEqual(total, sum(int(row[4]) for row in rows))
        self.assertEqual(total, 19200)
        self.assertEqual(int(re.search(r"(?m)^  host\s+(\d+)$", result.stdout).group(1)), 16384)

        report = json.loads(self.launcher("check", "--json").stdout)
        self.assertEqual(report["schema"], "carbon-launcher/check/v1")
        self.assertEqual(report["result"], "fail")
        self.assertEqual(report["memory"]["total_mb"], 19200)
        self.assertEqual(sum(row["total_mb"] for row in report["memory"]["instances"]), 19200)

    def test_run_and_apply_refuse_on_a_failed_check_and_start_nothing(self):
        self.add_apim("apim-1", env={"JAVA_OPTS": "-Xmx64g"})
        run = self.launcher("run", "--socket", str(self.ws.root / "control.sock"))
        self.assertEqual(run.returncode, 69, run.stderr)
        self.assertIn("the host checks failed; nothing was written or started", run.stderr)
        self.assertIn("memory:", run.stderr)
        self.assertFalse(list((self.ws.state / "instances").glob("*.json")) if (self.ws.state / "instances").exists() else [])
        apply = self.launcher("apply")
        self.assertEqual(apply.returncode, 69, apply.stderr)
        self.assertIn("nothing was written", apply.stderr)

    def test_a_planned_port_in_the_ephemeral_range_warns_and_export_sysctl_reserves_it(self):
        self.add_apim("apim-1", offset=0)  # explicit: the planner may not move it out of the range
        self.fake_proc(mem_total_kb=64 * GIB_KB, ephemeral="9000\t9999", reserved="")
        result = self.launcher("check")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)  # a warning only
        self.assertRegex(result.stdout, r"(?m)^warn  ephemeral-ports: apim-1: ports 9021,9099,9443,9611,9711,9763,9999 lie")
        self.assertIn("carbon-launcher export sysctl", result.stdout)

        out = self.ws.root / "sysctl"
        exported = self.launcher("export", "sysctl", "--out", str(out))
        self.assertEqual(exported.returncode, 0, exported.stderr)
        drop_in = (out / "60-carbon-launcher.conf").read_text()
        reserved = re.search(r"(?m)^net\.ipv4\.ip_local_reserved_ports = (\S+)$", drop_in).group(1)
        self.assertIn("9443", reserved.split(","))
        self.fake_proc(mem_total_kb=64 * GIB_KB, ephemeral="9000\t9999", reserved=reserved)
        after = self.launcher("check")
        self.assertNotIn("warn  ephemeral-ports", after.stdout)
        self.assertRegex(after.stdout, r"(?m)^ok    ephemeral-ports: no planned port")

    def test_the_planner_keeps_auto_offsets_out_of_the_ephemeral_range(self):
        self.add_apim("apim-1")
        self.fake_proc(mem_total_kb=64 * GIB_KB, ephemeral="5000\t12000", reserved="")
        plan = json.loads(self.launcher("plan", "--json").stdout)
        instance = plan["instances"][0]
        ports = [port["port"] for port in instance["ports"]]
        self.assertTrue(all(not 5000 <= port <= 12000 for port in ports), ports)
        self.assertGreater(instance["offset"], 0)

    def test_a_jdk_outside_the_pack_range_fails_naming_the_range(self):
        self.add_apim("apim-47", version="4.7.0", jdk_version="17.0.12")
        self.add_apim("apim-44", version="4.4.0", jdk_version="17.0.8")
        result = self.launcher("check")
        self.assertEqual(result.returncode, 69)
        self.assertRegex(result.stdout, r"(?m)^fail  jdk: apim-47: JDK 17\.0\.12 .*supports JDK 21 to 25")
        self.assertRegex(result.stdout, r"(?m)^fail  jdk: apim-44: JDK 17\.0\.8 .*ZIP64")

    def test_selected_names_and_bad_input_have_their_exit_codes(self):
        self.add_apim("apim-1")
        self.assertEqual(self.launcher("check", "apim-1").returncode, 0)
        unknown = self.launcher("check", "apim-2")
        self.assertEqual(unknown.returncode, 64)
        self.assertIn('did you mean "apim-1"', unknown.stderr)
        (self.ws.profiles / "bad.json").write_text('{"name": "bad", "runtime": "api-manger", "home": "/nope"}')
        self.assertEqual(self.launcher("check").returncode, 78)


if __name__ == "__main__":
    unittest.main()
