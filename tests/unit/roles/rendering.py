"""Runs tests/unit/roles/render.yml: the stack roles rendered by ansible-playbook with
`component_render_only: true` (the path playbooks/deploy.yml takes), nothing sent to a cluster.

Shared by the role golden tests, tests/promtool and tests/integration/promql.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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


class RenderError(AssertionError):
    pass


def playbook_bin():
    candidate = Path(sys.executable).with_name("ansible-playbook")
    if candidate.exists():
        return str(candidate)
    return shutil.which("ansible-playbook")


def ensure_collection_link():
    link = COLLECTIONS / "ansible_collections" / "homelab" / "observability"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT, target_is_directory=True)


def run_playbook(playbook, extra_vars, *options, **env):
    """Run tests/unit/roles/<playbook> on localhost with this checkout as the collection
    (``options`` go to ansible-playbook, ``env`` is added to the environment); the
    CompletedProcess, whatever its return code."""
    ensure_collection_link()
    binary = playbook_bin()
    if not binary:
        raise RenderError("ansible-playbook is not installed")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", **env)
    return subprocess.run(
        [binary, *options, "-i", "localhost,", "-e", json.dumps(extra_vars), str(HERE / playbook)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )


def render_roles(roles, dest, **extra_vars):
    """{role: [component, ...]} for `roles`, rendered into the directory `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ev = dict(extra_vars, render_roles=list(roles), render_dest=str(dest))
    proc = run_playbook("render.yml", ev, ANSIBLE_STDOUT_CALLBACK="default")
    if proc.returncode != 0:
        raise RenderError("render.yml failed:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-4000:]))
    return {role: json.loads((dest / ("%s.json" % role)).read_text()) for role in roles}


def alert_rule_groups(components):
    """The PrometheusRule groups the kube_prometheus_stack component ships."""
    stack = next(c for c in components if c["name"] == "kube-prometheus-stack")
    return stack["values"]["additionalPrometheusRulesMap"]["homelab-observability"]["groups"]


def dashboard_models(components):
    """{file name: dashboard model} from the capacity_dashboards ConfigMaps."""
    models = {}
    for comp in components:
        for manifest in comp.get("manifests", []):
            for key, text in (manifest.get("data") or {}).items():
                if key.endswith(".json"):
                    models[key] = json.loads(text)
    return models
