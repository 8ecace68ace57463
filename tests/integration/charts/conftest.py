"""Renders the real pinned chart archives (make charts) with the values the roles produce, with the
pinned helm, as `helm upgrade --install` would render them: the objects the seed's promises are
about. No cluster is needed.

    def test_x(rendered):
        objects = rendered()["kube-prometheus-stack"]        # the release's rendered objects
        objects = rendered(["kube_prometheus_stack"], kube_prometheus_stack_ingress_class_name="traefik")[...]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl.paths import Binaries, charts_dir  # noqa: E402
from roles.rendering import ROLES, render_roles  # noqa: E402

KUBE_VERSION = Binaries.discover().kubernetes_version
# the API groups of the stack's CRDs, as a cluster with wave -2 applied reports them
API_VERSIONS = ("monitoring.coreos.com/v1", "autoscaling.k8s.io/v1")


def _goyaml():
    sys.path.insert(0, str(ROOT / ".build" / "collections"))
    from ansible_collections.homelab.observability.plugins.module_utils.kube import goyaml  # noqa: PLC0415

    return goyaml


def helm_template(component: dict, workdir: Path) -> list[dict]:
    chart = component["chart"]
    archive = charts_dir() / ("%s-%s.tgz" % (chart["ref"], chart["version"]))
    if not archive.is_file():
        pytest.fail("no %s: run `make charts`" % archive, pytrace=False)
    values = workdir / ("%s.values.json" % component["name"])
    values.write_text(json.dumps(component.get("values") or {}))
    argv = [str(Binaries.discover().helm3), "template", component["name"], str(archive), "-n", component["namespace"],
            "-f", str(values), "--kube-version", KUBE_VERSION, "--include-crds"]
    for api in API_VERSIONS:
        argv += ["--api-versions", api]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, "helm template %s failed: %s" % (component["name"], proc.stderr[-2000:])
    return [doc for doc in _goyaml().load_all(proc.stdout) if doc]


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """{release name: [object, ...]} of every chart component of the stack roles."""
    cache = {}

    def _rendered(roles=None, **role_vars):
        roles = list(roles or ROLES)
        key = json.dumps([roles, role_vars], sort_keys=True)
        if key not in cache:
            workdir = tmp_path_factory.mktemp("charts")
            roles = render_roles(roles, workdir, **role_vars)
            cache[key] = {comp["name"]: helm_template(comp, workdir)
                          for comps in roles.values() for comp in comps if "chart" in comp}
        return cache[key]

    return _rendered


def only(objects: list[dict], kind: str, name: str | None = None) -> dict:
    """The one object of ``kind`` (named ``name``, or ending in it)."""
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"].endswith(name))]
    assert len(found) == 1, "%d %s objects named *%s: %s" % (len(found), kind, name or "",
                                                              [o["metadata"]["name"] for o in found])
    return found[0]


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or []}


def load_yaml(text: str):
    return yaml.safe_load(text)
