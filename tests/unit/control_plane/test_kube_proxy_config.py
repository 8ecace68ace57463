"""kube-proxy's metrics address in kubeadm's ConfigMap: the one line changed, the old value kept for absent, the
rollout judged from the DaemonSet's status; and the module's calls against a fake apiserver."""

import copy

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.control_plane import kube_proxy_config as kp
from ansible_collections.homelab.observability.plugins.modules import kube_proxy_metrics as module

# kubeadm v1.34's config.conf, shortened to the keys around metricsBindAddress
CONFIG = """apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
clientConnection:
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
clusterCIDR: 10.244.0.0/16
kind: KubeProxyConfiguration
metricsBindAddress: ""
mode: ""
"""


def _configmap(text=CONFIG, annotations=None):
    meta = {"name": "kube-proxy", "namespace": "kube-system", "resourceVersion": "7"}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "data": {"config.conf": text, "kubeconfig.conf": "..."}}


def test_only_the_metrics_line_changes():
    new = kp.set_address(CONFIG, "0.0.0.0:10249")
    assert new == CONFIG.replace('metricsBindAddress: ""', "metricsBindAddress: 0.0.0.0:10249")
    assert yaml.safe_load(new)["metricsBindAddress"] == "0.0.0.0:10249"


def test_a_missing_key_is_added_at_the_end():
    text = CONFIG.replace('metricsBindAddress: ""\n', "")
    assert kp.set_address(text, "0.0.0.0:10249").endswith("metricsBindAddress: 0.0.0.0:10249\n")


def test_the_first_change_records_kubeadms_value_and_absent_puts_it_back():
    new, annotations = kp.plan(_configmap(), "0.0.0.0:10249", "present")
    assert annotations == {kp.ORIGINAL_ANNOTATION: ""}
    changed = _configmap(new, {kp.ORIGINAL_ANNOTATION: ""})
    assert kp.plan(changed, "0.0.0.0:10249", "present") == (new, {}), "a second run changes nothing"
    back, gone = kp.plan(changed, "0.0.0.0:10249", "absent")
    assert back == CONFIG and gone == {kp.ORIGINAL_ANNOTATION: None}
    assert kp.plan(_configmap(), "x", "absent") == (CONFIG, {}), "nothing recorded: nothing to put back"


@pytest.mark.parametrize(("text", "message"), [
    ("kind: Pod\n", "not a KubeProxyConfiguration"),
    ("a: [\n", "not valid YAML"),
    (CONFIG + 'metricsBindAddress: "1.2.3.4:1"\n', "2 times"),
])
def test_configs_it_does_not_change_safely_are_named(text, message):
    with pytest.raises(kp.ConfigError, match=message):
        kp.plan(_configmap(text), "0.0.0.0:10249", "present")


def test_a_missing_key_of_the_configmap_is_named():
    with pytest.raises(kp.ConfigError, match="configmap_key"):
        kp.plan({"metadata": {"name": "kube-proxy"}, "data": {}}, "0.0.0.0:10249", "present")


def _status(updated, observed):
    return {"desiredNumberScheduled": 2, "updatedNumberScheduled": updated, "numberAvailable": 2,
            "observedGeneration": observed}


@pytest.mark.parametrize(("status", "generation", "done"), [(_status(2, 3), 3, True), (_status(1, 3), 3, False),
                                                            (_status(2, 2), 3, False)])
def test_the_rollout_is_done_when_every_pod_runs_the_new_spec(status, generation, done):
    assert kp.rolled_out({"metadata": {"generation": generation}, "status": status})[0] is done


class FakeApi:
    def __init__(self, configmap):
        self.configmap = configmap
        self.calls = []

    def request(self, method, path, body=None, content_type=None, **_kw):
        self.calls.append((method, path, copy.deepcopy(body)))
        if path.endswith("/configmaps/kube-proxy"):
            return self.configmap
        return {"metadata": {"generation": 2},
                "status": {"desiredNumberScheduled": 1, "updatedNumberScheduled": 1, "numberAvailable": 1,
                           "observedGeneration": 2}}


def test_the_module_patches_the_configmap_then_restarts_kube_proxy(run_module, monkeypatch):
    api = FakeApi(_configmap())
    monkeypatch.setattr(module, "kube_api", lambda params: api)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent"})
    assert not failed and result["changed"] and result["restarted"], result
    patches = [c for c in api.calls if c[0] == "PATCH"]
    assert patches[0][2]["data"]["config.conf"].count("metricsBindAddress: 0.0.0.0:10249") == 1
    assert patches[0][2]["metadata"] == {"resourceVersion": "7", "annotations": {kp.ORIGINAL_ANNOTATION: ""}}
    assert patches[1][1].endswith("/daemonsets/kube-proxy")
    assert kp.RESTART_ANNOTATION in patches[1][2]["spec"]["template"]["metadata"]["annotations"]


def test_the_module_in_check_mode_writes_nothing(run_module, monkeypatch):
    api = FakeApi(_configmap())
    monkeypatch.setattr(module, "kube_api", lambda params: api)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent"}, check=True)
    assert not failed and result["changed"] and not result["restarted"]
    assert [c[0] for c in api.calls] == ["GET"]
