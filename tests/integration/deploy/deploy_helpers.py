"""Helpers for the deploy engine's integration tests: run the modules as Ansible runs them
(ad-hoc, JSON callback) against the lab, in a namespace of their own, and count the write
requests that reached the apiserver from its audit log."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
CHARTS = ROOT / "tests" / "charts"


def _ansible_bin():
    here = Path(sys.executable).parent / "ansible"
    return str(here if here.exists() else shutil.which("ansible"))


class Runner:
    def __init__(self, lab):
        self.lab = lab
        self.binary = _ansible_bin()

    def __call__(self, module, args, check=False, diff=False, auth=True):
        args = dict(args)
        if auth:
            args.setdefault("kubeconfig", str(self.lab.kubeconfig))
        env = self.lab.env() | {
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        }
        cmd = [self.binary, "localhost", "-c", "local", "-i", "localhost,", "-m", "homelab.observability.%s" % module,
               "-a", json.dumps(args)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT), check=False)
        try:
            doc = json.loads(proc.stdout[proc.stdout.index("{"):])
            return doc["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError) as exc:
            tail = (proc.stdout[-3000:], proc.stderr[-3000:])
            raise AssertionError("ansible did not return a result:\n%s\n%s" % tail) from exc


def kubectl(lab, *args):
    proc = subprocess.run([str(lab.kubectl), "--kubeconfig", str(lab.kubeconfig), *args], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def writes_in(lab, since, namespace, names=(), include_dry_run=True):
    """Write requests (dry runs included) since ``since`` in ``namespace`` or on the named
    cluster-scoped objects: other sessions share the lab, so filter by what this test owns."""
    out = []
    for event in lab.write_requests(since, user=None, include_dry_run=include_dry_run):
        ref = event.get("objectRef") or {}
        if (event.get("user") or {}).get("username", "").startswith("system:"):
            continue  # the cluster's own controllers (an EndpointSlice catching up on a loaded machine)
        if ref.get("namespace") == namespace or (not ref.get("namespace") and ref.get("name") in names):
            out.append(event)
    return out


def crds_for(namespace):
    """The operator-like chart's CRDs in an API group of this test's own (CRDs are cluster-wide)."""
    crds = list(yaml.safe_load_all((CHARTS / "operator-like" / "crds" / "crds.yaml").read_text()))
    for crd in crds:
        crd["metadata"]["name"] = crd["metadata"]["name"].replace("lab.homelab.local", namespace + ".homelab.local")
        crd["spec"]["group"] = namespace + ".homelab.local"
    return crds
