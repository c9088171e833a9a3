"""The Debian package and the systemd units: built with CPack, checked with dpkg and
systemd-analyze. In CI (CI=true, as root) the .deb is really installed with dpkg, checked, and
removed again; elsewhere it is only unpacked, so a developer's machine is left as it was."""
import os
import pathlib
import shutil
import subprocess
import tempfile
import unittest

from support import LAUNCHER, REPO, SIM

BUILD = pathlib.Path(os.environ.get("CARBON_BUILD_DIR", REPO / "build"))
EXPECTED = ["./usr/bin/carbon-launcher", "./usr/lib/systemd/system/carbon-launcher.service",
            "./usr/lib/tmpfiles.d/carbon-launcher.conf", "./usr/share/bash-completion/completions/carbon-launcher",
            "./usr/share/man/man1/carbon-launcher.1", "./usr/share/carbon-launcher/runtimes/api-manager.json",
            "./usr/share/carbon-launcher/runtimes/streaming-integrator.json",
            "./usr/share/carbon-launcher/runtimes/si-tooling.json", "./etc/carbon-launcher/profiles/README",
            "./usr/share/doc/carbon-launcher/examples/apim-1.json"]


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)


@unittest.skipUnless(shutil.which("cpack") and shutil.which("dpkg-deb") and shutil.which("systemd-analyze"),
                     "needs cpack, dpkg-deb and systemd-analyze (scripts/install-deps.sh installs them)")
class PackagingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = pathlib.Path(tempfile.mkdtemp(prefix="carbon-pkg-"))
        result = run("cpack", "-G", "DEB", "-B", str(cls.work), cwd=BUILD)
        if result.returncode != 0:
            raise AssertionError(result.stdout + result.stderr)
        cls.deb = next(cls.work.glob("carbon-launcher_*.deb"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_package_contents_and_metadata(self):
        contents = run("dpkg-deb", "-c", str(self.deb)).stdout
        for path in EXPECTED:
            self.assertIn(path, contents)
        info = run("dpkg-deb", "-I", str(self.deb)).stdout
        self.assertIn("Package: carbon-launcher", info)
        self.assertIn("libssl3", info)  # dependencies found by dpkg-shlibdeps
        self.assertNotIn("libsystemd0", info)  # the notify protocol is spoken, not linked
        self.assertIn("postinst", info)

    def test_installed_package(self):
        if os.environ.get("CI") == "true" and os.geteuid() == 0:
            self.install_with_dpkg()
        else:
            self.unpack_and_check()

    def install_with_dpkg(self):
        already = run("dpkg-query", "-W", "carbon-launcher").returncode == 0
        self.assertFalse(already, "carbon-launcher is already installed on this machine")
        installed = run("dpkg", "-i", str(self.deb))
        try:
            self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)
            version = run("/usr/bin/carbon-launcher", "--version")
            self.assertRegex(version.stdout, r"^carbon-launcher \d+\.\d+\.\d+")
            self.assertEqual(run("getent", "passwd", "carbon-launcher").returncode, 0, "postinst made no user")
            unit = "/usr/lib/systemd/system/carbon-launcher.service"
            verify = run("systemd-analyze", "verify", unit)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
            self.assertIn("carbon-launcher.1", run("dpkg", "-L", "carbon-launcher").stdout)
        finally:
            run("dpkg", "--purge", "carbon-launcher")
        self.assertFalse(pathlib.Path("/usr/bin/carbon-launcher").exists())

    def unpack_and_check(self):
        root = self.work / "root"
        self.assertEqual(run("dpkg-deb", "-x", str(self.deb), str(root)).returncode, 0)
        version = run(str(root / "usr/bin/carbon-launcher"), "--version")
        self.assertRegex(version.stdout, r"^carbon-launcher \d+\.\d+\.\d+")
        unit = (root / "usr/lib/systemd/system/carbon-launcher.service").read_text()
        local_unit = self.work / "carbon-launcher.service"
        # systemd-analyze checks that ExecStart exists: point it at the unpacked binary.
        local_unit.write_text(unit.replace("/usr/bin/carbon-launcher", str(root / "usr/bin/carbon-launcher")))
        verify = run("systemd-analyze", "verify", "--man=no", str(local_unit))  # the man page is not installed
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)

    def test_exported_units_verify(self):
        demo = self.work / "demo"
        run(str(REPO / "scripts" / "make-demo-homes.sh"), str(demo), SIM)
        result = run(LAUNCHER, "export", "systemd", "--profiles", str(demo / "profiles"), "--state-dir",
                     str(demo / "state"), "--out", str(demo / "units"))
        self.assertEqual(result.returncode, 0, result.stderr)
        units = sorted((demo / "units").glob("*.service"))
        self.assertEqual([u.name for u in units], ["carbon-apim-1.service", "carbon-apim-2.service",
                                                   "carbon-apim-3.service", "carbon-si.service",
                                                   "carbon-tooling.service"])
        verify = run("systemd-analyze", "verify", *map(str, units))
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        apim2 = (demo / "units" / "carbon-apim-2.service").read_text()
        for line in ("RestartForceExitStatus=121", "SuccessExitStatus=143", "KillMode=control-group",
                     "TimeoutStopSec=10", "After=network-online.target carbon-apim-1.service",
                     "-DportOffset=1", "Environment=\"CARBON_HOME="):
            self.assertIn(line, apim2)
        # The SI's unit carries no offset argument: its deployment.yaml was written instead.
        self.assertIn("offset: 4", (demo / "homes/si/conf/server/deployment.yaml").read_text())


if __name__ == "__main__":
    unittest.main()
