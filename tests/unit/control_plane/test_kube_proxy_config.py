"""kube-proxy's metrics address in kubeadm's ConfigMap: the one line changed, the old value kept for absent, the
rollout judged from the DaemonSet's status; and the module's calls against a fake apiserver."""

import copy

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.control_plane import kube_proxy_config as kp
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApiError, Ref
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter
from ansible_collections.homelab.observability.plugins.modules import kube_proxy_metrics as module

from tests.fakes import kube_api as kube_fakes

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


def test_a_stamp_decides_the_restart_not_this_runs_change():
    text = kp.set_address(CONFIG, "0.0.0.0:10249")
    stamped = {"spec": {"template": kp.restart_patch(text)["spec"]["template"]}}
    assert not kp.needs_restart(stamped, text, untouched_config=False)
    assert kp.needs_restart(stamped, CONFIG, untouched_config=False), "stamped for another config"
    assert kp.needs_restart({}, text, untouched_config=False), "changed by the module, never stamped"
    assert not kp.needs_restart({}, CONFIG, untouched_config=True), "kubeadm's own config, never stamped"


@pytest.mark.parametrize(("before", "after", "annotations", "untouched"), [
    (CONFIG, CONFIG, {}, True),
    (CONFIG, CONFIG.replace('""', "0.0.0.0:10249"), {}, False),
    (CONFIG.replace('""', "0.0.0.0:10249"), CONFIG.replace('""', "0.0.0.0:10249"),
     {kp.ORIGINAL_ANNOTATION: ""}, False),
    (CONFIG.replace('""', "0.0.0.0:10249"), CONFIG.replace('""', "0.0.0.0:10249"),
     {kp.ORIGINAL_ANNOTATION: "0.0.0.0:10249"}, True),
])
def test_untouched_means_the_module_never_changed_the_address(before, after, annotations, untouched):
    assert kp.untouched(before, after, annotations) is untouched


DAEMONSET_REF = Ref("apps/v1", "DaemonSet", "kube-system", "kube-proxy")
CONFIGMAP_REF = Ref("v1", "ConfigMap", "kube-system", "kube-proxy")


def _daemonset(annotations=None):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "generation": 1},
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                     "template": {"metadata": {"annotations": annotations or {}}}},
            "status": {"desiredNumberScheduled": 1, "updatedNumberScheduled": 1, "numberAvailable": 1,
                       "observedGeneration": 1}}


class FakeApi(kube_fakes.FakeApi):
    """The apiserver for the module: merge patches by path; ``fail`` maps a kind to the error of its next PATCH."""

    def __init__(self, configmap, daemonset=None):
        super().__init__([dict(configmap, apiVersion="v1", kind="ConfigMap"), daemonset or _daemonset()])
        self.patches = []
        self.fail = {}

    def path(self, ref):
        return "%s|%s" % (ref.api_version, ref.kind)

    def request(self, method, path, body=None, content_type=None, **_kw):
        assert method == "PATCH" and content_type == module.MERGE
        ref = next(r for r in self.objects if self.path(r) == path)
        if ref.kind in self.fail:
            raise self.fail.pop(ref.kind)
        self.patches.append((ref.kind, copy.deepcopy(body)))
        live = self.objects[ref]
        self.objects[ref] = _merge_patch(live, body)
        if ref.kind == "DaemonSet":
            self.objects[ref]["metadata"]["generation"] += 1
            self.objects[ref]["status"]["observedGeneration"] = self.objects[ref]["metadata"]["generation"]
        return self.objects[ref]


def _merge_patch(live, patch):
    out = dict(live)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_patch(out[key], value)
        else:
            out[key] = value
    return out


class Session:
    secrets = {"sekrit-token"}


@pytest.fixture
def connect(monkeypatch):
    """connect(api) makes the module talk to ``api``; returns the list of AnsibleModule instances made."""
    made = []

    class Recorded(module.AnsibleModule):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    def _connect(api):
        monkeypatch.setattr(module, "AnsibleModule", Recorded)
        monkeypatch.setattr(module, "kube_session", lambda params: Session())
        monkeypatch.setattr(module, "KubeApi", lambda session: api)
        return made
    return _connect


def stamp_of(api):
    return kp.stamp(api.objects[DAEMONSET_REF])


def test_the_module_patches_the_configmap_then_stamps_kube_proxy(run_module, connect):
    api = FakeApi(_configmap())
    made = connect(api)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent"})
    assert not failed and result["changed"] and result["restarted"], result
    [(kind, cm_patch), (ds_kind, _)] = api.patches
    assert (kind, ds_kind) == ("ConfigMap", "DaemonSet")
    assert cm_patch["data"]["config.conf"].count("metricsBindAddress: 0.0.0.0:10249") == 1
    assert cm_patch["metadata"] == {"resourceVersion": "7", "annotations": {kp.ORIGINAL_ANNOTATION: ""}}
    assert stamp_of(api) == kp.config_hash(api.objects[CONFIGMAP_REF]["data"]["config.conf"])
    assert result["rollout"] == "1/1 pods available"
    assert "sekrit-token" in made[0].no_log_values, "the kubeconfig's token is masked in the result"
    again, failed = run_module(module, {"kubeconfig": "/nonexistent"})
    assert not failed and not again["changed"] and not again["restarted"] and len(api.patches) == 2


def test_a_failed_restart_names_the_daemonset_and_the_rerun_restarts(run_module, connect):
    api = FakeApi(_configmap())
    api.fail["DaemonSet"] = KubeApiError(403, "Forbidden", "daemonsets is forbidden", "PATCH", "/")
    connect(api)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent"})
    assert failed and result["changed"] and not result["restarted"]
    assert result["msg"].startswith("kube-proxy's DaemonSet kube-system/kube-proxy: ")
    assert "the next run restarts kube-proxy" in result["msg"] and stamp_of(api) is None
    rerun, failed = run_module(module, {"kubeconfig": "/nonexistent"})
    assert not failed and rerun["changed"] and rerun["restarted"], rerun
    assert [kind for kind, _ in api.patches] == ["ConfigMap", "DaemonSet"], "the ConfigMap is written once"
    assert stamp_of(api) == kp.config_hash(api.objects[CONFIGMAP_REF]["data"]["config.conf"])


def test_a_failed_configmap_write_names_the_configmap(run_module, connect):
    api = FakeApi(_configmap())
    api.fail["ConfigMap"] = KubeApiError(409, "Conflict", "the object has been modified", "PATCH", "/")
    connect(api)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent"})
    assert failed and not result["changed"] and api.patches == []
    assert result["msg"].startswith("kube-proxy's ConfigMap kube-system/kube-proxy: ")


def test_a_missing_daemonset_fails_before_the_configmap_is_written(run_module, connect):
    api = FakeApi(_configmap())
    del api.objects[DAEMONSET_REF]
    connect(api)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent"})
    assert failed and api.patches == [] and result["msg"].startswith("kube-proxy's DaemonSet kube-system/kube-proxy:")
    assert "set daemonset" in result["msg"]


def test_a_cluster_kubeadm_already_configured_is_not_restarted(run_module, connect):
    api = FakeApi(_configmap(CONFIG.replace('""', "0.0.0.0:10249")))
    connect(api)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent"})
    assert not failed and result["changed"] and not result["restarted"]
    assert [kind for kind, _ in api.patches] == ["ConfigMap"] and "data" not in api.patches[0][1]
    again, _ = run_module(module, {"kubeconfig": "/nonexistent"})
    assert not again["changed"] and len(api.patches) == 1


def test_a_rollout_that_does_not_finish_names_the_daemonset(run_module, connect, monkeypatch):
    api = FakeApi(_configmap())
    plain = api.request

    def stuck(method, path, body=None, **kw):
        out = plain(method, path, body, **kw)
        api.objects[DAEMONSET_REF]["status"]["updatedNumberScheduled"] = 0
        return out
    api.request = stuck
    ticks = iter(range(999))  # one second a read: the timeout passes after a few polls
    monkeypatch.setattr(module, "Waiter", lambda api_: Waiter(api_, sleep=lambda s: None, clock=lambda: next(ticks)))
    connect(api)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent", "wait_timeout": 5})
    assert failed and result["restarted"] and result["rollout"] == "0 of 1 pods updated"
    assert result["msg"].startswith("kube-proxy's DaemonSet kube-system/kube-proxy: the rollout did not finish")


def test_a_connection_failure_is_not_blamed_on_the_configmap(run_module, monkeypatch):
    def refuse(params):
        raise KubeError("no kubeconfig at /nonexistent")
    monkeypatch.setattr(module, "kube_session", refuse)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent"})
    assert failed and result["msg"] == "no kubeconfig at /nonexistent"


def test_the_module_in_check_mode_writes_nothing(run_module, connect):
    api = FakeApi(_configmap())
    connect(api)
    result, failed = run_module(module, {"kubeconfig": "/nonexistent"}, check=True)
    assert not failed and result["changed"] and not result["restarted"]
    assert api.patches == [] and api.writes() == 0
