"""An Ansible connection into a root booted by tests/systemd/harness.py: `ansible_host` is the host
pid of the boot's PID 1 (systemd), and every command runs in all of its namespaces and under its
root, as the harness's own System.run does. Files go through the same door (`cat` inside), so a
symlink in a target path resolves inside the booted root, never on the host. Test use only."""
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase, ensure_connect

DOCUMENTATION = """
    name: carbon_nsenter
    short_description: run commands inside a booted test root (nsenter into its PID 1)
    description:
      - Runs commands and copies files in the pid, mount, uts, ipc and net namespaces and under the
        root of a process given by its host pid (the systemd of a tests/systemd/harness.py boot).
    author: carbon-launcher developers
    options:
      remote_addr:
        description: the host pid of the booted root's PID 1
        vars:
          - name: ansible_host
      remote_user:
        description: ignored; commands run as root, like the test that booted the root
        vars:
          - name: ansible_user
"""

# A clean environment, as harness.System.run gives its commands, plus the HOME Ansible's remote
# temp folder (~/.ansible/tmp) is made in.
INSIDE_ENV = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "LANG=C.UTF-8", "HOME=/root", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"]
# Every command is bounded: the longest the role waits for is wait-ready (600 s by default).
COMMAND_TIMEOUT_S = 900


class Connection(ConnectionBase):
    transport = "carbon_nsenter"
    has_pipelining = True

    def _prefix(self):
        pid = str(self.get_option("remote_addr"))
        if not pid.isdigit():
            raise AnsibleConnectionFailure(f"carbon_nsenter: ansible_host must be a pid, not {pid!r}")
        return ["nsenter", "-t", pid, "-m", "-u", "-i", "-n", "-p", "--root", "--wd", *INSIDE_ENV]

    def _connect(self):
        self._connected = True
        return self

    def _run(self, argv, stdin=None, input_data=None):
        try:
            done = subprocess.run(self._prefix() + argv, stdin=stdin, input=input_data, capture_output=True,
                                  timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired as error:
            raise AnsibleConnectionFailure(f"carbon_nsenter: {argv[:3]} ran longer than {COMMAND_TIMEOUT_S} s") \
                from error
        return done.returncode, done.stdout, done.stderr

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return self._run(["/bin/sh", "-c", cmd], input_data=in_data if in_data else b"")

    @ensure_connect
    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        with open(in_path, "rb") as source:
            rc, _, err = self._run(["/bin/sh", "-c", 'cat > "$0"', out_path], stdin=source)
        if rc != 0:
            raise AnsibleError(f"carbon_nsenter: cannot write {out_path}: {err.decode(errors='replace')}")

    @ensure_connect
    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        rc, out, err = self._run(["cat", "--", in_path])
        if rc != 0:
            raise AnsibleError(f"carbon_nsenter: cannot read {in_path}: {err.decode(errors='replace')}")
        with open(out_path, "wb") as target:
            target.write(out)

    def close(self):
        self._connected = False
