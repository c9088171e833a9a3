#!/usr/bin/python
# -*- coding: utf-8 -*-
DOCUMENTATION = r"""
module: carbon_launcher_preflight
short_description: ask the host's carbon-launcher about the wanted profiles, changing nothing
description:
  - Writes the wanted profiles to a temporary folder and runs C(carbon-launcher check --json) and
    C(carbon-launcher plan --json) on them there (and C(apply --dry-run) when asked), then removes
    the folder. Returns the launcher's refusals (failed checks, plan conflicts, bad profiles) as
    the launcher words them, its warnings, a one-line summary per planned instance, and the plan.
  - Beside the running service, the launcher counts the ports that the service's own instances
    hold as theirs (it finds them from the records in the state folder), so the plan sees exactly
    the ports that other processes of the host hold.
options:
  profiles: {description: "instance name -> profile fields", type: dict, required: true}
  host: {description: the inventory name, written into the profiles' header, type: str, required: true}
  state_dir: {description: the launcher's state folder (sticky offsets), type: path, required: true}
  service: {description: the launcher's systemd unit, type: str, default: carbon-launcher}
  fail_on_warnings: {description: count check warnings as refusals, type: bool, default: false}
  config_diffs: {description: also return the diffs of C(apply --dry-run), type: bool, default: false}
"""
import json
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.carbon_launcher_common import profile_problems, render_profile

LAUNCHER = "carbon-launcher"


def parse_json(text):
    try:
        return json.loads(text) if text.lstrip().startswith("{") else None
    except ValueError:
        return None


def finding_line(finding):
    """A finding as `carbon-launcher check` prints it."""
    line = "%s  %s: " % (finding.get("level", ""), finding.get("check", ""))
    if finding.get("instance"):
        line += finding["instance"] + ": "
    line += finding.get("measured", "")
    if finding.get("limit"):
        line += "; limit: " + finding["limit"]
    if finding.get("fix"):
        line += "; fix: " + finding["fix"]
    return line


def launcher_refusals(check, plan, fail_on_warnings):
    """Why the launcher refuses the profiles, in its own words; [] when it accepts them. Exit
    codes: 0 ok, 69 a failed check or a plan conflict, 78 bad profiles. `check` also exits 69 on
    plan conflicts: those are taken from `plan`, whose JSON names them."""
    refusals = []
    if check["rc"] not in (0, 69):
        refusals += check["stderr"].splitlines()
    levels = ("fail", "warn") if fail_on_warnings else ("fail",)
    refusals += [finding_line(f) for f in (check["json"] or {}).get("findings", []) if f.get("level") in levels]
    if plan["rc"] != 0:
        conflicts = (plan["json"] or {}).get("conflicts") or []
        refusals += [c["message"] for c in conflicts] or plan["stderr"].splitlines()
    unique = []
    for line in refusals:
        if line.strip() and line not in unique:
            unique.append(line)
    return unique


def plan_summary(plan):
    lines = []
    for instance in (plan or {}).get("instances", []):
        offset = "(none fits)" if instance.get("offset") is None else instance["offset"]
        line = "%s (%s): offset %s, %s" % (instance["name"], instance["runtime"], offset,
                                          instance.get("offset_source", ""))
        if instance.get("note"):
            line += "; " + instance["note"]
        line += "".join("; %s %s" % (url["name"], url["url"]) for url in instance.get("urls", []))
        lines.append(line)
        lines += ["%s: warning: %s" % (instance["name"], warning) for warning in instance.get("warnings", [])]
    return lines


def main():
    module = AnsibleModule(
        argument_spec=dict(profiles=dict(type="dict", required=True), host=dict(type="str", required=True),
                           state_dir=dict(type="path", required=True),
                           service=dict(type="str", default="carbon-launcher"),
                           fail_on_warnings=dict(type="bool", default=False),
                           config_diffs=dict(type="bool", default=False)),
        supports_check_mode=True)
    params = module.params
    problems = profile_problems(params["profiles"])
    nothing_asked = dict(changed=False, active=False, check_warnings=[], summary=[], plan=None, config_diffs=[])
    if problems:
        module.exit_json(usable=True, refusals=problems, **nothing_asked)
    if not module.get_bin_path(LAUNCHER):  # in --check on a host that does not have the package yet
        module.exit_json(usable=False, refusals=[], **nothing_asked)
    _, state, _ = module.run_command(["systemctl", "is-active", params["service"]])
    active = state.strip() == "active"

    stage = tempfile.mkdtemp(prefix="carbon-launcher-profiles-")
    try:
        for name, fields in params["profiles"].items():
            with open(os.path.join(stage, name + ".json"), "w") as staged:
                staged.write(render_profile(name, fields, params["host"]))
        common = ["--profiles", stage, "--state-dir", params["state_dir"]]

        def launcher(*args):
            rc, out, err = module.run_command([LAUNCHER] + list(args) + common)
            return {"rc": rc, "stdout": out, "stderr": err, "json": parse_json(out)}

        check = launcher("check", "--json")
        plan = launcher("plan", "--json")
        refusals = launcher_refusals(check, plan, params["fail_on_warnings"])
        config_diffs = []
        if params["config_diffs"] and not refusals:
            dry_run = launcher("apply", "--dry-run")
            config_diffs = (dry_run["stdout"] + dry_run["stderr"]).splitlines()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    warnings = [finding_line(f) for f in (check["json"] or {}).get("findings", []) if f.get("level") == "warn"]
    # Not Ansible's own "warnings": those are printed at the end of the play, without the host.
    module.exit_json(changed=False, usable=True, active=active, refusals=refusals, check_warnings=warnings,
                     summary=plan_summary(plan["json"]), plan=plan["json"], config_diffs=config_diffs)


if __name__ == "__main__":
    main()
