"""The variables inventory/lab gives the stack for a lab directory holding ``state`` (its
``state.json``), read back through ansible: what `make lab` deploys with."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ANSIBLE = Path(sys.executable).with_name("ansible")
SHOWN = ("lab_real_nodes", "vpa_metrics_server_enabled", "kube_prometheus_stack_values_overrides",
         "loki_values_overrides", "alloy_values_overrides", "vpa_values_overrides",
         "goldilocks_values_overrides", "uptime_kuma_node_selector", "exportarr_tolerations", "alloy_audit_log_dir")


def lab_vars(tmp_path: Path, state: dict | None, names=SHOWN, ports: dict | None = None) -> dict:
    (tmp_path / "ports.json").write_text(json.dumps(ports or {"kube-apiserver": 6443}))
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
    expr = "{{ {%s} | to_json }}" % ", ".join("'%s': %s" % (name, name) for name in names)
    proc = subprocess.run([str(ANSIBLE), "-i", "inventory/lab", "localhost", "-m", "ansible.builtin.debug",
                           "-a", "msg=" + expr], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=dict(os.environ, LAB_DIR=str(tmp_path), ANSIBLE_STDOUT_CALLBACK="json",
                                   ANSIBLE_LOAD_CALLBACK_PLUGINS="1"))
    doc = json.loads(proc.stdout[proc.stdout.index("{"):])
    msg = doc["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    return json.loads(msg) if isinstance(msg, str) else msg
