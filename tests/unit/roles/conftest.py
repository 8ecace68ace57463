"""Renders the stack roles through ansible-playbook (their real defaults, vars and templates).

`render(roles, **extra_vars)` runs tests/unit/roles/render.yml once per distinct input and returns
{role: [component, ...]}. The playbook includes each role with `<role>_deploy: false`, the same
path playbooks/deploy.yml takes, so no module touches a cluster.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
ROLES = [
    "kube_prometheus_stack",
    "loki",
    "alloy",
    "exportarr",
    "uptime_kuma",
    "vpa",
    "goldilocks",
    "capacity_dashboards",
]


def _playbook_bin():
    candidate = Path(sys.executable).with_name("ansible-playbook")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("ansible-playbook")
    if not found:
        pytest.skip("ansible-playbook is not installed")
    return found


@pytest.fixture(scope="session")
def render(tmp_path_factory):
    cache = {}

    def _render(roles=None, **extra_vars):
        roles = list(roles or [r for r in ROLES if (ROOT / "roles" / r).is_dir()])
        key = json.dumps([roles, extra_vars], sort_keys=True)
        if key in cache:
            return cache[key]
        dest = tmp_path_factory.mktemp("render")
        ev = dict(extra_vars, render_roles=roles, render_dest=str(dest))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default")
        proc = subprocess.run(
            [_playbook_bin(), "-i", "localhost,", "-e", json.dumps(ev), str(HERE / "render.yml")],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise AssertionError("render.yml failed:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-4000:]))
        result = {role: json.loads((dest / ("%s.json" % role)).read_text()) for role in roles}
        cache[key] = result
        return result

    return _render


def component(components, name):
    """The component called `name` from a role's component list."""
    for item in components:
        if item["name"] == name:
            return item
    raise AssertionError("no component %r in %s" % (name, [c["name"] for c in components]))


def manifests_by_kind(comp):
    """{(kind, name): object} of a manifest component."""
    return {(m["kind"], m["metadata"]["name"]): m for m in comp.get("manifests", [])}


def load_yaml(text):
    return yaml.safe_load(text)
