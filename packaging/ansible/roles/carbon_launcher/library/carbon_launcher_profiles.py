#!/usr/bin/python
# -*- coding: utf-8 -*-
DOCUMENTATION = r"""
module: carbon_launcher_profiles
short_description: write a host's carbon-launcher profiles and have the running launcher take them
description:
  - Writes each profile to DIR/NAME.json (atomically, root 0644) and removes every other *.json
    of DIR; returns the diffs for C(--diff). Gives each instance's home to the launcher's user
    when its top folder belongs to someone else.
  - When the profiles changed and the service is running, runs C(carbon-launcher reload): the
    launcher starts new instances, stops removed ones and restarts changed ones, leaving the
    others alone. If it refuses the new profiles (for example a port another process holds), it
    keeps running the previous ones; this module then writes the previous files back, so that
    the files say what runs, and fails with the launcher's reasons from the journal.
  - Check mode returns the diffs and changes nothing.
options:
  profiles: {description: "instance name -> profile fields", type: dict, required: true}
  host: {description: the inventory name, written into the profiles' header, type: str, required: true}
  dir: {description: the launcher's profiles folder, type: path, required: true}
  service: {description: the launcher's systemd unit, type: str, default: carbon-launcher}
  homes_owner: {description: "user (and group) to give the homes to; empty: leave them", type: str, default: ""}
"""
import grp
import os
import pwd
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.carbon_launcher_common import render_profile

# journald reads the launcher's lines from a stream: they may land a moment after its answer.
JOURNAL_WAIT_S = 10
REFUSED_LINE = "keeping the running configuration"


def read_profiles(folder):
    found = {}
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        if entry.endswith(".json") and not entry.startswith(".") and os.path.isfile(path):
            with open(path) as current:
                found[entry[:-len(".json")]] = current.read()
    return found


def write_atomically(path, text):
    descriptor, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(path))
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def homes_to_give(profiles, owner):
    if not owner:
        return []
    uid = pwd.getpwnam(owner).pw_uid
    homes = sorted({fields["home"] for fields in profiles.values()})
    return [home for home in homes if os.path.isdir(home) and os.stat(home).st_uid != uid]


def give_home(home, owner):
    uid, gid = pwd.getpwnam(owner).pw_uid, grp.getgrnam(owner).gr_gid
    os.lchown(home, uid, gid)
    for top, folders, files in os.walk(home):
        for entry in folders + files:
            os.lchown(os.path.join(top, entry), uid, gid)


def journal_cursor(module, service):
    _, out, _ = module.run_command(["journalctl", "--lines=0", "--show-cursor", "--no-pager", "--unit", service])
    return out.rsplit("cursor: ", 1)[-1].strip() if "cursor: " in out else None


def refusal_reasons(module, service, cursor):
    """The launcher's lines about the refused reload (bounded wait for journald)."""
    argv = ["journalctl", "--no-pager", "--output=cat", "--unit", service]
    if cursor:
        argv += ["--after-cursor", cursor]
    lines = []
    deadline = time.monotonic() + JOURNAL_WAIT_S
    for _ in range(JOURNAL_WAIT_S * 4 + 1):
        _, out, _ = module.run_command(argv)
        lines = [line.split("reload: ", 1)[1] for line in out.splitlines() if "reload: " in line]
        if any(REFUSED_LINE in line for line in lines) or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    return lines


def main():
    module = AnsibleModule(
        argument_spec=dict(profiles=dict(type="dict", required=True), host=dict(type="str", required=True),
                           dir=dict(type="path", required=True), service=dict(type="str", default="carbon-launcher"),
                           homes_owner=dict(type="str", default="")),
        supports_check_mode=True)
    params = module.params
    folder = params["dir"]
    wanted = {name: render_profile(name, fields, params["host"]) for name, fields in params["profiles"].items()}
    current = read_profiles(folder)
    written = sorted(name for name, text in wanted.items() if current.get(name) != text)
    removed = sorted(name for name in current if name not in wanted)
    homes = homes_to_give(params["profiles"], params["homes_owner"])
    path = lambda name: os.path.join(folder, name + ".json")  # noqa: E731
    diff = [{"before_header": path(name), "after_header": path(name), "before": current.get(name, ""),
             "after": wanted.get(name, "")} for name in written + removed]
    result = dict(changed=bool(written or removed or homes), written=written, removed=removed, homes=homes,
                  diff=diff, reload=None)
    if module.check_mode:
        module.exit_json(**result)

    for name in written:
        write_atomically(path(name), wanted[name])
    for name in removed:
        os.unlink(path(name))
    for home in homes:
        give_home(home, params["homes_owner"])
    _, state, _ = module.run_command(["systemctl", "is-active", params["service"]])
    if (written or removed) and state.strip() == "active":
        cursor = journal_cursor(module, params["service"])
        rc, out, err = module.run_command(["carbon-launcher", "reload"])
        result["reload"] = out.strip()
        if rc != 0:
            for name in written + removed:  # the previous files, as the launcher still runs them
                if name in current:
                    write_atomically(path(name), current[name])
                else:
                    os.unlink(path(name))
            module.fail_json(msg="carbon-launcher refused the new profiles and keeps running the previous ones; "
                                 "their files are back in " + folder,
                             reasons=[line for line in (out.strip(), err.strip()) if line]
                             + refusal_reasons(module, params["service"], cursor), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
