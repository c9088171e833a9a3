"""`carbon-launcher apply` end to end: real and hostile config files, and SIGKILL mid-write."""
import difflib
import os
import pathlib
import random
import signal
import subprocess
import sys
import time
import tomllib
import unittest

import yaml

from support import FIXTURES, LAUNCHER, REAL_FIXTURES, Workspace

OFFSETS = (0, 1, 3, 17)
TEMP_MARK = ".carbon-launcher-tmp."


def runtime_for(name):
    if name.startswith("si-tooling") or name.startswith("si-tooling-"):
        return "si-tooling"
    if name.endswith(".yaml"):
        return "streaming-integrator"
    return "api-manager"


def read_offset(path):
    text = path.read_text()
    if path.suffix == ".yaml":
        return yaml.safe_load(text)["wso2.carbon"]["ports"]["offset"]
    return tomllib.loads(text).get("server", {}).get("offset")


def changed_lines(before, after):
    """(changed, inserted, removed) line counts between two texts."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(True), b=after.splitlines(True), autojunk=False)
    changed = inserted = removed = 0
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "replace":
            changed += max(a1 - a0, b1 - b0)
        elif tag == "insert":
            inserted += b1 - b0
        elif tag == "delete":
            removed += a1 - a0
    return changed, inserted, removed


class ConfigFileCase:
    """One instance whose config file is `source`, applied at `offset` in a fresh workspace."""

    def __init__(self, source, offset, runtime=None, **profile):
        self.ws = Workspace()
        runtime = runtime or runtime_for(source.name)
        fields = {"offset": offset}
        if runtime == "api-manager":
            fields["offset_method"] = "config"
        fields.update(profile)
        self.home = self.ws.add_instance("inst", runtime, **fields)
        rel = "repository/conf/deployment.toml" if runtime == "api-manager" else "conf/server/deployment.yaml"
        self.config = self.home / rel
        self.config.write_bytes(source.read_bytes())

    def close(self):
        self.ws.close()


class RealFilesTest(unittest.TestCase):
    """Every real WSO2 file, and the project's own, at several offsets."""

    def sources(self):
        files = sorted(FIXTURES.glob("*.yaml")) + sorted(FIXTURES.glob("*.toml"))
        if REAL_FIXTURES.is_dir():
            files += sorted(REAL_FIXTURES.glob("*.yaml")) + sorted(REAL_FIXTURES.glob("*.toml"))
        else:
            print(f"\nskipped the real files: {REAL_FIXTURES} not found", file=sys.stderr)
        return files

    def test_one_line_changes_and_parsers_agree_and_twice_is_a_no_op(self):
        checked = 0
        for source in self.sources():
            for offset in OFFSETS:
                with self.subTest(file=source.name, offset=offset):
                    case = ConfigFileCase(source, offset)
                    try:
                        before = case.config.read_text()
                        first = case.ws.launcher("apply")
                        self.assertEqual(first.returncode, 0, first.stdout + first.stderr)
                        after = case.config.read_text()
                        changed, inserted, removed = changed_lines(before, after)
                        self.assertEqual(removed, 0)
                        self.assertLessEqual(changed + inserted, 1, first.stdout)
                        if read_offset(source) != offset:
                            self.assertEqual(changed + inserted, 1)
                        self.assertEqual(read_offset(case.config), offset)  # an independent parser
                        stamp = case.config.stat().st_mtime_ns
                        second = case.ws.launcher("apply")
                        self.assertEqual(second.returncode, 0, second.stderr)
                        self.assertIn("0 files changed", second.stdout)
                        self.assertEqual(case.config.read_text(), after)
                        self.assertEqual(case.config.stat().st_mtime_ns, stamp)
                        backup = case.config.with_name(case.config.name + ".carbon-launcher.orig")
                        if before != after:
                            self.assertEqual(backup.read_text(), before)
                        checked += 1
                    finally:
                        case.close()
        self.assertGreaterEqual(checked, 4 * 4)

    def test_dry_run_prints_the_diff_and_writes_nothing(self):
        case = ConfigFileCase(FIXTURES / "si-deployment.yaml", 6)
        try:
            before = case.config.read_bytes()
            result = case.ws.launcher("apply", "--dry-run")
            self.assertEqual(result.returncode, 0)
            self.assertIn("-    offset: 0\n+    offset: 6\n", result.stdout)
            self.assertIn("1 file would change", result.stdout)
            self.assertEqual(case.config.read_bytes(), before)
            self.assertFalse((case.ws.state / "offsets.json").exists())
        finally:
            case.close()

    def test_advertised_urls_move_only_when_asked(self):
        case = ConfigFileCase(FIXTURES / "apim-deployment.toml", 5, offset_method="argument")
        try:
            warned = case.ws.launcher("plan")
            self.assertIn("do not follow the offset", warned.stdout)
            before = case.config.read_bytes()
            unasked = case.ws.launcher("apply")
            self.assertEqual(unasked.returncode, 0, unasked.stderr)
            self.assertIn("0 files changed", unasked.stdout)
            self.assertEqual(case.config.read_bytes(), before)  # without the option: untouched
            case.ws.add_instance("inst", "api-manager", offset=5, update_advertised_urls=True)
            case.config.write_bytes((FIXTURES / "apim-deployment.toml").read_bytes())
            result = case.ws.launcher("apply")
            self.assertEqual(result.returncode, 0, result.stderr)
            tree = tomllib.loads(case.config.read_text())
            env = tree["apim"]["gateway"]["environment"][0]
            self.assertEqual(env["ws_endpoint"], "ws://localhost:9104")
            self.assertEqual(env["websub_event_receiver_https_endpoint"], "https://localhost:8026")
            self.assertNotIn("offset", tree["server"])
            self.assertNotIn("do not follow the offset", case.ws.launcher("plan").stdout)
        finally:
            case.close()


SI_TEXT = (FIXTURES / "si-deployment.yaml").read_text()


class HostileInputTest(unittest.TestCase):
    """Each bad file gives a clear error naming it, and stays byte-identical."""

    def setUp(self):
        self.case = ConfigFileCase(FIXTURES / "si-deployment.yaml", 4)

    def tearDown(self):
        self.case.close()

    def refused(self, expected_phrase, *extra, names_file=True):
        path = self.case.config
        before = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        result = self.case.ws.launcher("apply", *extra)
        self.assertNotEqual(result.returncode, 0, result.stdout)
        if names_file:
            self.assertIn(str(path), result.stderr)
        self.assertIn(expected_phrase, result.stderr)
        if before is not None:
            self.assertEqual(path.read_bytes(), before)
        self.assertFalse(any(TEMP_MARK in p.name for p in path.parent.iterdir()))
        self.assertFalse(path.with_name(path.name + ".carbon-launcher.orig").exists())
        return result

    def patched(self):
        result = self.case.ws.launcher("apply")
        self.assertEqual(result.returncode, 0, result.stderr)
        return self.case.config.read_bytes()

    def test_missing_file(self):
        self.case.config.unlink()
        self.refused("file not found")

    def test_read_only_file(self):
        self.case.config.chmod(0o444)
        self.refused("is read-only")

    def test_directory_instead_of_file(self):
        self.case.config.unlink()
        self.case.config.mkdir()
        self.refused("is a directory")

    def test_binary_garbage(self):
        self.case.config.write_bytes(bytes(range(256)) * 4)
        self.refused("")

    def test_duplicate_keys(self):
        self.case.config.write_text(SI_TEXT.replace("  ports:\n", "  ports:\n    offset: 1\n", 1))
        self.refused('"offset" appears twice')

    def test_flow_style(self):
        self.case.config.write_text(SI_TEXT.replace("  ports:\n      # port offset\n    offset: 0\n",
                                                    "  ports: {offset: 0}\n"))
        self.refused("flow style")

    def test_tabs_in_indentation(self):
        self.case.config.write_text(SI_TEXT.replace("    offset: 0", "\toffset: 0"))
        self.refused("")

    def test_anchor_and_alias(self):
        self.case.config.write_text("defaults: &d\n  offset: 0\n" +
                                    SI_TEXT.replace("  ports:\n      # port offset\n    offset: 0\n", "  ports: *d\n"))
        self.refused("anchor")

    def test_placeholder_needs_force(self):
        self.case.config.write_text(SI_TEXT.replace("offset: 0", "offset: ${OFFSET}"))
        self.refused("placeholder")
        forced = self.case.ws.launcher("apply", "--force")
        self.assertEqual(forced.returncode, 0, forced.stderr)
        self.assertEqual(read_offset(self.case.config), 4)

    def test_fifty_megabyte_file(self):
        with open(self.case.config, "a") as f:
            f.write(("# padding" + " " * 1014 + "\n") * (50 * 1024))
        self.refused("more than the 4194304")

    def test_symlink_pointing_elsewhere(self):
        elsewhere = self.case.ws.root / "shared.yaml"
        elsewhere.write_text(SI_TEXT)
        self.case.config.unlink()
        self.case.config.symlink_to(elsewhere)
        self.refused("symbolic link")
        self.assertEqual(elsewhere.read_text(), SI_TEXT)

    def test_empty_file(self):
        self.case.config.write_text("")
        self.refused('no top-level "wso2.carbon:"')

    def test_not_yaml(self):
        self.case.config.write_text("wso2.carbon:\n  ports: [1,\n")
        self.refused("YAML")

    def test_crlf_is_patched_and_kept(self):
        crlf = SI_TEXT.replace("\n", "\r\n").encode()
        self.case.config.write_bytes(crlf)
        self.assertEqual(self.patched(), crlf.replace(b"    offset: 0\r\n", b"    offset: 4\r\n"))

    def test_no_final_newline_is_patched_and_kept(self):
        text = "wso2.carbon:\n  id: x\n  ports:\n    offset: 0"
        self.case.config.write_text(text)
        self.assertEqual(self.patched(), text.replace("offset: 0", "offset: 4").encode())

    def test_byte_order_mark_is_kept(self):
        self.case.config.write_bytes(b"\xef\xbb\xbf" + SI_TEXT.encode())
        self.assertEqual(self.patched(), b"\xef\xbb\xbf" + SI_TEXT.replace("    offset: 0\n", "    offset: 4\n").encode())

    def test_toml_without_server_table(self):
        self.case.close()
        self.case = ConfigFileCase(FIXTURES / "apim-deployment.toml", 2)  # closed by tearDown
        self.case.config.write_text('[other]\nkey = "v"\n')
        self.refused("no [server] table")

    def test_a_plan_with_conflicts_writes_nothing(self):
        self.case.ws.add_instance("si-2", "streaming-integrator", offset=4)
        before = self.case.config.read_bytes()
        result = self.case.ws.launcher("apply")
        self.assertEqual(result.returncode, 69)
        self.assertIn("nothing was written", result.stderr)
        self.assertEqual(self.case.config.read_bytes(), before)

    def test_one_bad_file_stops_every_write(self):
        good = self.case.ws.add_instance("si-b", "streaming-integrator", offset=20)
        self.case.ws.add_instance("si-b", "streaming-integrator", offset=20,
                                  ports={"store-api-http": {"base": 7071}, "store-api-https": {"base": 7444}})
        (good / "conf/server/deployment.yaml").write_text(
            SI_TEXT.replace("port: 7070", "port: 7071").replace("port: 7443", "port: 7444"))
        self.case.config.write_text(SI_TEXT.replace("  ports:\n", "  ports: {offset: 0}\n  x:\n", 1))
        good_before = (good / "conf/server/deployment.yaml").read_bytes()
        self.refused("flow style")
        self.assertEqual((good / "conf/server/deployment.yaml").read_bytes(), good_before)

    def test_running_instance_is_refused_unless_forced(self):
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(self.case.home)])
        try:
            pid_file = self.case.home / "wso2/server/runtime.pid"
            pid_file.parent.mkdir(parents=True)
            pid_file.write_text(str(sleeper.pid))
            result = self.refused(f"names live process {sleeper.pid}", names_file=False)
            self.assertIn("inst appears to be running", result.stderr)
            self.assertEqual(result.returncode, 69)
            self.assertEqual(self.case.ws.launcher("apply", "--force").returncode, 0)
        finally:
            os.kill(sleeper.pid, signal.SIGKILL)
            sleeper.wait()


class CrashSafetyTest(unittest.TestCase):
    KILLS = 100  # random kill points over a ~0.3 s apply: dense enough, and each is a whole launcher run

    def test_sigkill_at_random_moments_never_leaves_a_mixed_or_empty_file(self):
        case = ConfigFileCase(FIXTURES / "si-deployment.yaml", 5)
        rng = random.Random(20261126)
        padding = "".join(f"# line {i} keeps this file large enough to take a while to write\n" for i in range(3000))
        case.config.write_text(SI_TEXT + padding)
        profile = case.ws.profiles / "inst.json"
        try:
            start = time.monotonic()
            case.ws.launcher("apply", check=True)
            one_run = time.monotonic() - start
            killed_mid_run = 0
            for i in range(self.KILLS):
                old = read_offset(case.config)
                new = 5 if old == 6 else 6
                profile.write_text(profile.read_text().replace(f'"offset": {old}', f'"offset": {new}'))
                proc = subprocess.Popen([LAUNCHER, "apply", "--profiles", str(case.ws.profiles),
                                         "--state-dir", str(case.ws.state)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0, one_run * 1.2))
                proc.send_signal(signal.SIGKILL)
                code = proc.wait(timeout=30)
                killed_mid_run += code == -signal.SIGKILL
                text = case.config.read_text()
                self.assertTrue(text.endswith(padding), f"kill {i}: the file lost its tail")
                self.assertIn(read_offset(case.config), (old, new), f"kill {i}")
                self.assertEqual(text.replace("offset: 5", "offset: 6"),
                                 (SI_TEXT + padding).replace("offset: 0", "offset: 6"))
            print(f"\n{self.KILLS} kills, {killed_mid_run} before apply finished (one run {one_run * 1000:.0f} ms)",
                  file=sys.stderr)
            self.assertGreater(killed_mid_run, self.KILLS // 4)
            case.ws.launcher("apply", check=True)
            self.assertFalse(any(TEMP_MARK in p.name for p in case.config.parent.iterdir()))
        finally:
            case.close()


if __name__ == "__main__":
    unittest.main()
