"""inventory/lab places the stack on the lab's real nodes only when the lab has them: a lab of kwok
nodes only (`make test`) has no node with the real-node label, and a pod that asked for one would
never be scheduled."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ANSIBLE = Path(sys.executable).with_name("ansible")
SHOWN = ("lab_real_nodes", "vpa_metrics_server_enabled", "kube_prometheus_stack_values_overrides",
         "loki_values_overrides", "alloy_values_overrides", "vpa_values_overrides",
         "goldilocks_values_overrides", "uptime_kuma_node_selector", "exportarr_tolerations", "alloy_audit_log_dir")


def lab_vars(tmp_path: Path, state: dict | None) -> dict:
    (tmp_path / "ports.json").write_text(json.dumps({"kube-apiserver": 6443}))
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
    expr = "{{ {%s} | to_json }}" % ", ".join("'%s': %s" % (name, name) for name in SHOWN)
    proc = subprocess.run([str(ANSIBLE), "-i", "inventory/lab", "localhost", "-m", "ansible.builtin.debug",
                           "-a", "msg=" + expr], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=dict(os.environ, LAB_DIR=str(tmp_path), ANSIBLE_STDOUT_CALLBACK="json",
                                   ANSIBLE_LOAD_CALLBACK_PLUGINS="1"))
    doc = json.loads(proc.stdout[proc.stdout.index("{"):])
    msg = doc["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    return json.loads(msg) if isinstance(msg, str) else msg


@pytest.mark.parametrize("state", [None, {}, {"real_nodes": 0}])
def test_a_lab_without_real_nodes_places_nothing(tmp_path, state):
    got = lab_vars(tmp_path, state)
    assert got["lab_real_nodes"] == 0 and got["vpa_metrics_server_enabled"] is False
    assert all(got[name] in ({}, []) for name in SHOWN[2:-1]), got
    assert got["alloy_audit_log_dir"] == "/var/log/kubernetes/audit"  # the role's default


def test_a_lab_with_real_nodes_places_every_pod_on_them(tmp_path):
    got = lab_vars(tmp_path, {"real_nodes": 1})
    selector = {"lab.homelab.io/real-node": "true"}
    assert got["lab_real_nodes"] == 1 and got["vpa_metrics_server_enabled"] is True
    kps = got["kube_prometheus_stack_values_overrides"]
    assert kps["prometheus"]["prometheusSpec"]["nodeSelector"] == selector
    assert kps["prometheusOperator"]["kubeletService"]["selector"] == "lab.homelab.io/real-node=true"
    assert got["loki_values_overrides"]["singleBinary"]["nodeSelector"] == selector
    # the chart's digest-pinned config reloader becomes the one the lab builds (standin_images.py)
    assert got["alloy_values_overrides"]["configReloader"]["image"] == {"tag": "v0.93.1", "digest": ""}
    assert got["vpa_values_overrides"]["metrics-server"]["image"] == {"tag": "v0.8.0"}
    assert got["uptime_kuma_node_selector"] == selector
    assert got["exportarr_tolerations"][0]["key"] == "lab.homelab.io/real-node"
    # where the lab's apiserver writes its audit log (labctl/paths.py default_audit_log)
    assert got["alloy_audit_log_dir"] == str(tmp_path.resolve() / "host/var/log/kubernetes/audit")
    alloy = got["alloy_values_overrides"]
    mounts = {m["name"]: m for m in alloy["alloy"]["mounts"]["extra"]}
    volumes = {v["name"]: v["hostPath"]["path"] for v in alloy["controller"]["volumes"]["extra"]}
    # the node's own pod logs where Alloy looks for them; the role's mounts kept, at the role's paths
    assert mounts["lab-nodes"]["subPathExpr"] == "$(NODE_NAME)/var/log/pods"
    assert volumes["lab-nodes"] == str(tmp_path.resolve() / "nodes")
    role = yaml.safe_load((ROOT / "roles/alloy/vars/main.yml").read_text())
    assert mounts["alloy-positions"]["mountPath"] == role["_alloy_storage_mount_path"]
    assert mounts["audit-log"]["mountPath"] == role["_alloy_audit_mount_path"]
    assert volumes["audit-log"] == got["alloy_audit_log_dir"]
    assert volumes["alloy-positions"].startswith(str(tmp_path.resolve()))
