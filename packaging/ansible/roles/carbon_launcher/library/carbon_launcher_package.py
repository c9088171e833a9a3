#!/usr/bin/python
# -*- coding: utf-8 -*-
DOCUMENTATION = r"""
module: carbon_launcher_package
short_description: install the carbon-launcher .deb when the host has another version, or none
description:
  - Compares the version inside the .deb (C(dpkg-deb --field)) with the installed one
    (C(dpkg-query)) and, when they differ, installs the file with C(apt-get install), which brings
    its dependencies from the host's repositories and needs no python3-apt.
  - In check mode it says what it would install; the file may then not be on the host yet.
options:
  deb: {description: the .deb on the host, type: path, required: true}
  name: {description: the package's name, type: str, default: carbon-launcher}
"""
import os

from ansible.module_utils.basic import AnsibleModule


def installed_version(module, name):
    rc, out, _ = module.run_command(["dpkg-query", "--show", "--showformat=${db:Status-Status} ${Version}", name])
    status, _, version = out.strip().partition(" ")
    return version if rc == 0 and status == "installed" else None


def main():
    module = AnsibleModule(argument_spec=dict(deb=dict(type="path", required=True),
                                              name=dict(type="str", default="carbon-launcher")),
                           supports_check_mode=True)
    deb, name = module.params["deb"], module.params["name"]
    previous = installed_version(module, name)
    if not os.path.exists(deb):
        if module.check_mode:  # the copy to the host did not happen either
            module.exit_json(changed=True, version=None, previous=previous, upgraded=False,
                             msg="would install the package (not on the host yet)")
        module.fail_json(msg=deb + ": no such file; copy the package there first")
    rc, out, err = module.run_command(["dpkg-deb", "--field", deb, "Version"])
    if rc != 0:
        module.fail_json(msg="%s: not a Debian package: %s" % (deb, err.strip()))
    version = out.strip()
    if previous == version:
        module.exit_json(changed=False, version=version, previous=previous, upgraded=False)
    if not module.check_mode:
        module.run_command(["apt-get", "install", "--yes", "--allow-downgrades", "--no-install-recommends", deb],
                           check_rc=True, environ_update={"DEBIAN_FRONTEND": "noninteractive"})
    module.exit_json(changed=True, version=version, previous=previous, upgraded=previous is not None,
                     msg="%s %s installed%s" % (name, version, " over " + previous if previous else ""))


if __name__ == "__main__":
    main()
