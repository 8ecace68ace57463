"""k3s/rke2 config.yaml.d drop-in: content, conflicts with other config files, and the module."""

import os

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.audit import k3s
from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf
from ansible_collections.homelab.observability.plugins.modules import apiserver_k3s_config as module

POLICY = "/etc/rancher/k3s/audit-policy.yml"
LOG = "/var/log/kubernetes/audit/audit.log"
FLAGS = mf.audit_flags(POLICY, LOG)


def test_k3s_dropin_appends_args_with_plus():
    text = k3s.render_dropin("k3s", FLAGS, POLICY, LOG, "ab" * 32)
    data = yaml.safe_load(text)
    assert list(data) == ["kube-apiserver-arg+"]
    assert data["kube-apiserver-arg+"] == [
        "audit-log-format=json", "audit-log-maxage=7", "audit-log-maxbackup=3", "audit-log-maxsize=100",
        "audit-log-path=" + LOG, "audit-policy-file=" + POLICY]
    assert "# audit policy sha256: " + "ab" * 32 in text


def test_rke2_dropin_mounts_policy_and_log_dir():
    data = yaml.safe_load(k3s.render_dropin("rke2", FLAGS, POLICY, LOG))
    assert data["kube-apiserver-extra-mount+"] == [POLICY + ":" + POLICY + ":ro",
                                                   "/var/log/kubernetes/audit:/var/log/kubernetes/audit"]


def test_unknown_flavor():
    with pytest.raises(ValueError, match="use one of k3s, rke2"):
        k3s.render_dropin("microk8s", FLAGS, POLICY, LOG)


def _host(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_conflicts(tmp_path):
    root = _host(tmp_path, {
        "etc/rancher/k3s/config.yaml": "kube-apiserver-arg:\n- audit-log-maxage=30\n- anonymous-auth=false\n",
        "etc/rancher/k3s/config.yaml.d/10-ok.yaml": "kube-apiserver-arg+: [service-node-port-range=30000-32767]\n",
        "etc/rancher/k3s/config.yaml.d/95-late.yaml": "kube-apiserver-arg: [enable-admission-plugins=X]\n",
    })
    ours = str(root / "etc/rancher/k3s/config.yaml.d" / k3s.DROPIN_NAME)
    warnings = k3s.conflicts("k3s", ours, str(root))
    assert any("config.yaml also sets audit-log-maxage=30" in w for w in warnings)
    assert any("95-late.yaml sets kube-apiserver-arg without '+'" in w for w in warnings)
    assert not any("10-ok.yaml" in w for w in warnings)


def test_module_writes_restarts_nothing_and_is_idempotent(run_module, tmp_path):
    root = _host(tmp_path, {POLICY.lstrip("/"): "x", "etc/rancher/k3s/config.yaml": "write-kubeconfig-mode: '0600'\n"})
    args = {"host_root": str(root), "policy_file": POLICY, "owner": "", "group": "",
            "backup_dir": str(tmp_path / "backups")}
    path = root / "etc/rancher/k3s/config.yaml.d" / k3s.DROPIN_NAME
    result, failed = run_module(module, args, check=True, diff=True)
    assert not failed and result["changed"] and not path.exists() and result["service"] == "k3s"
    result, failed = run_module(module, args)
    assert not failed and result["changed"] and oct(os.stat(path).st_mode & 0o777) == "0o600"
    result, failed = run_module(module, args)
    assert not failed and not result["changed"]
    result, failed = run_module(module, dict(args, log_maxage=30, log_maxbackup=10))
    assert not failed and result["changed"] and "audit-log-maxbackup=10" in path.read_text()
    assert os.path.dirname(result["backup_file"]) == str(tmp_path / "backups")
    result, failed = run_module(module, dict(args, state="absent"))
    assert not failed and result["changed"] and not path.exists()


def test_module_refuses_maxbackup_zero_and_missing_policy(run_module, tmp_path):
    args = {"host_root": str(tmp_path), "policy_file": POLICY, "owner": "", "group": "", "flavor": "rke2"}
    result, failed = run_module(module, dict(args, log_maxbackup=0))
    assert failed and "maxbackup=0" in result["msg"]
    result, failed = run_module(module, args)
    assert failed and "write it first" in result["msg"]
    assert not (tmp_path / "etc/rancher/rke2/config.yaml.d" / k3s.DROPIN_NAME).exists()
