#!/usr/bin/env python3
"""Fails when a role's meta/argument_specs.yml and defaults/main.yml disagree.

Every variable in defaults must be documented in the `main` entry point, every documented
option with a default must be in defaults with the same value, and every public variable
must carry the role's name as prefix.
"""

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def check_role(role_dir):
    problems = []
    role = role_dir.name
    spec_file = role_dir / "meta" / "argument_specs.yml"
    defaults_file = role_dir / "defaults" / "main.yml"
    if not spec_file.exists():
        return ["%s: meta/argument_specs.yml is missing: document every variable there" % role]
    specs = yaml.safe_load(spec_file.read_text()) or {}
    options = (specs.get("argument_specs", {}).get("main") or {}).get("options") or {}
    defaults = {}
    if defaults_file.exists():
        defaults = yaml.safe_load(defaults_file.read_text()) or {}
    for name in sorted(set(defaults) - set(options)):
        problems.append("%s: %s is in defaults/main.yml but not in meta/argument_specs.yml" % (role, name))
    for name, option in sorted(options.items()):
        if not name.startswith(role + "_"):
            problems.append("%s: option %s lacks the role prefix '%s_'" % (role, name, role))
        if "default" in option and name not in defaults:
            problems.append("%s: %s has a default in argument_specs but not in defaults/main.yml" % (role, name))
        elif name in defaults and "default" in option and option["default"] != defaults[name]:
            problems.append(
                "%s: %s default differs: argument_specs %r, defaults/main.yml %r"
                % (role, name, option["default"], defaults[name])
            )
        if not option.get("description"):
            problems.append("%s: %s has no description" % (role, name))
    return problems


def main():
    roles = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir()) if (ROOT / "roles").exists() else []
    problems = [problem for role in roles for problem in check_role(role)]
    for problem in problems:
        print(problem, file=sys.stderr)
    print("argument specs: %d roles checked, %d problems" % (len(roles), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
