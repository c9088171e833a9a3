# -*- coding: utf-8 -*-
"""What the role's modules share: how a host's profiles are checked and written as files."""
import json

HEADER = ('// Written by Ansible (role carbon_launcher) from carbon_launcher_profiles["{name}"] of\n'
          '// {host}: change it there, a change made here is replaced at the next run.\n')


def profile_problems(profiles):
    """Mistakes of the inventory that the launcher cannot see once the files are written."""
    problems = []
    if not isinstance(profiles, dict):
        return ["carbon_launcher_profiles: give a mapping of instance name -> profile fields"]
    for name, fields in sorted(profiles.items()):
        where = 'carbon_launcher_profiles["%s"]' % name
        if not isinstance(fields, dict):
            problems.append("%s: give the profile's fields as a mapping" % where)
            continue
        home = fields.get("home")
        if not isinstance(home, str) or not home.startswith("/"):
            problems.append('%s: "home" must be an absolute path (a relative one would be read relative to '
                            "the profile file)" % where)
        if "name" in fields and fields["name"] != name:
            problems.append('%s: "name" is %r; leave it out or set it to %r' % (where, fields["name"], name))
    return problems


def render_profile(name, fields, host):
    """The text of NAME.json: the header, then the fields as JSON (keys sorted, so that the same
    fields always give the same bytes and a second run changes nothing)."""
    profile = dict(fields)
    profile.setdefault("name", name)
    return HEADER.format(name=name, host=host) + json.dumps(profile, indent=2, sort_keys=True,
                                                             ensure_ascii=False) + "\n"
