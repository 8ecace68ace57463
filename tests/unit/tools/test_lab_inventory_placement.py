"""inventory/lab places the stack on the lab's real nodes only when the lab has them: a lab of kwok
nodes only (`make test`) has no node with the real-node label, and a pod that asked for one would
never be scheduled."""

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab_inventory import ROOT, SHOWN, lab_vars  # noqa: E402


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
