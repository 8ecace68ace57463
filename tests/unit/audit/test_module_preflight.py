"""One preflight for the audit modules: the same refusals, and the same warning in check mode, in each."""

import os

import pytest
from ansible.module_utils import basic
from ansible_collections.homelab.observability.plugins.module_utils.audit import module_preflight
from ansible_collections.homelab.observability.plugins.modules import (
    apiserver_k3s_config,
    apiserver_kubeadm_config,
    apiserver_manifest,
    audit_policy,
)

from .test_manifest import KUBEADM, POLICY, _args, host  # noqa: F401 - the host fixture

MODULES = [apiserver_manifest, apiserver_k3s_config, apiserver_kubeadm_config]
IDS = ["manifest", "k3s", "kubeadm_config"]


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: seen.append(msg))
    return seen


def _module_args(mod, root, **kw):
    if mod is apiserver_manifest:
        return _args(root, **kw)
    args = {"host_root": str(root), "policy_file": POLICY}
    if mod is apiserver_k3s_config:
        args.update(owner="", group="")
    else:
        args.update(kubeconfig=str(root / "no-such-admin.conf"))
    args.update(kw)
    return args


@pytest.mark.parametrize("mod", MODULES, ids=IDS)
def test_a_missing_policy_warns_in_check_mode_and_fails_otherwise(run_module, host, warnings, mod):  # noqa: F811
    os.unlink(host / POLICY.lstrip("/"))
    before = sorted(str(p) for p in host.rglob("*"))
    result, failed = run_module(mod, _module_args(mod, host))
    assert failed and "policy_file %s does not exist" % (host / POLICY.lstrip("/")) in result["msg"]
    assert result["msg"].endswith("nothing changed") and not warnings
    run_module(mod, _module_args(mod, host), check=True)
    assert warnings == ["policy_file %s does not exist yet: the apiserver would not start without it; write it "
                        "first with homelab.observability.audit_policy" % (host / POLICY.lstrip("/"))]
    assert sorted(str(p) for p in host.rglob("*")) == before


@pytest.mark.parametrize("mod", MODULES, ids=IDS)
def test_the_same_option_checks_refuse_in_each_module(run_module, host, mod):  # noqa: F811
    for check in (True, False):
        result, failed = run_module(mod, _module_args(mod, host, log_maxbackup=0), check=check)
        assert failed and "maxbackup=0" in result["msg"] and result["msg"].endswith("nothing changed")
        result, failed = run_module(mod, _module_args(mod, host, log_path="audit.log"), check=check)
        assert failed and "log_path 'audit.log' is relative" in result["msg"]
    assert (host / "etc/kubernetes/manifests/kube-apiserver.yaml").read_text() == KUBEADM


@pytest.mark.parametrize("mod", MODULES, ids=IDS)
def test_state_absent_needs_no_policy(run_module, host, warnings, mod):  # noqa: F811
    os.unlink(host / POLICY.lstrip("/"))
    result, failed = run_module(mod, _module_args(mod, host, state="absent"), check=True)
    assert not warnings and "policy_file" not in result.get("msg", "")


class _Module:
    def __init__(self):
        self.failed = None

    def fail_json(self, msg, **kwargs):
        self.failed = msg
        raise SystemExit(1)


def test_file_mode_reads_octal_text_and_takes_a_number_as_it_is():
    assert module_preflight.file_mode(_Module(), "0600") == 0o600
    assert module_preflight.file_mode(_Module(), "640") == 0o640
    assert module_preflight.file_mode(_Module(), 0o644) == 0o644
    module = _Module()
    with pytest.raises(SystemExit):
        module_preflight.file_mode(module, "rw-------")
    assert module.failed == "mode: 'rw-------' is not an octal file mode; write it quoted, e.g. '0600'"


@pytest.mark.parametrize("mod", [apiserver_k3s_config, audit_policy], ids=["k3s", "audit_policy"])
def test_a_numeric_mode_is_the_files_mode_in_each_module(run_module, host, mod):  # noqa: F811
    if mod is audit_policy:
        args = {"path": str(host / "policy.yml"), "owner": "", "group": "", "mode": 0o640}
        target = host / "policy.yml"
    else:
        args = _module_args(mod, host, mode=0o640)
        target = host / "etc/rancher/k3s/config.yaml.d/90-homelab-observability-audit.yaml"
    result, failed = run_module(mod, args)
    assert not failed, result
    assert oct(os.stat(target).st_mode & 0o777) == "0o640"
    result, failed = run_module(mod, dict(args, mode="u=rw"))
    assert failed and "'u=rw' is not an octal file mode" in result["msg"]


def test_require_yaml_names_the_package():
    module = _Module()
    with pytest.raises(SystemExit):
        module_preflight.require_yaml(module, False)
    assert "PyYAML (python3-yaml)" in module.failed
    module_preflight.require_yaml(module, True)
