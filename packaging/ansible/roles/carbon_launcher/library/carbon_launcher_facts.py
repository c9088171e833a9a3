#!/usr/bin/python
# -*- coding: utf-8 -*-
DOCUMENTATION = r"""
module: carbon_launcher_facts
short_description: wait until the instances are ready, and return what runs as the fact carbon_launcher_plan
description:
  - Runs C(carbon-launcher wait-ready) (fails when an instance ends Fatal or the timeout passes),
    then C(carbon-launcher status --json), and sets the fact C(carbon_launcher_plan) -
    C({host, instances: [{name, runtime, offset, state, ports: [{port, purpose}], urls: [{name, url}]}]}).
    Nothing in it changes from run to run unless the instances do (no pids, no uptimes). Also
    returns C(summary), one line per instance.
  - In check mode nothing is waited for, and the instances come from C(planned), the plan of
    the wanted profiles (C(carbon-launcher plan --json)), with the state C(planned).
options:
  host: {description: the inventory name, type: str, required: true}
  timeout_s: {description: how long wait-ready waits, type: int, default: 600}
  planned: {description: the plan of the wanted profiles, used in check mode, type: dict}
"""
from ansible.module_utils.basic import AnsibleModule


def instance_fact(instance):
    return {"name": instance["name"], "runtime": instance["runtime"], "offset": instance["offset"],
            "state": instance.get("state", "planned"),
            "ports": [{"port": port["port"], "purpose": port["purpose"]} for port in instance.get("ports", [])],
            "urls": [{"name": url["name"], "url": url["url"]} for url in instance.get("urls", [])]}


def main():
    module = AnsibleModule(argument_spec=dict(host=dict(type="str", required=True),
                                              timeout_s=dict(type="int", default=600),
                                              planned=dict(type="dict")),
                           supports_check_mode=True)
    if module.check_mode:
        instances = (module.params["planned"] or {}).get("instances", [])
    else:
        rc, out, err = module.run_command(["carbon-launcher", "wait-ready", "--timeout",
                                           str(module.params["timeout_s"])])
        if rc != 0:
            module.fail_json(msg="carbon-launcher wait-ready: " + (err.strip() or out.strip()))
        status = module.from_json(module.run_command(["carbon-launcher", "status", "--json"], check_rc=True)[1])
        instances = status["instances"]
    plan = {"host": module.params["host"], "instances": [instance_fact(i) for i in instances]}
    summary = ["%s: %s at offset %s%s" % (i["name"], i["state"], i["offset"],
                                          "".join(" " + url["url"] for url in i["urls"][:1]))
               for i in plan["instances"]]
    module.exit_json(changed=False, summary=summary, ansible_facts={"carbon_launcher_plan": plan})


if __name__ == "__main__":
    main()
