"""tools/lab/labctl/operator_host.py: the lab runs the real operator as the chart's operator pod would."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl import operator_host  # noqa: E402
from labctl.paths import LabPaths  # noqa: E402

CRDS = ["prometheuses.monitoring.coreos.com", "alertmanagers.monitoring.coreos.com", "foos.example.com"]


def _deployment(args, account="kube-prometheus-stack-operator", replicas=1):
    return {
        "metadata": {"name": "kube-prometheus-stack-operator", "namespace": "monitoring",
                     "creationTimestamp": "2026-12-03T00:00:00Z"},
        "spec": {"replicas": replicas, "template": {"spec": {"serviceAccountName": account, "containers": [
            {"name": "kube-prometheus-stack", "image": "quay.io/prometheus-operator/prometheus-operator:v0.93.1",
             "args": list(args)}]}}},
    }


CHART_ARGS = ["--kubelet-service=kube-system/kube-prometheus-stack-kubelet", "--localhost=127.0.0.1",
              "--web.enable-tls=true", "--web.cert-file=/cert/cert", "--web.key-file=/cert/key",
              "--web.listen-address=:10250", "--web.tls-min-version=VersionTLS13"]


class FakeApi:
    def __init__(self, deployments, crds):
        self.deployments, self.crds = deployments, crds

    def get(self, path):
        assert path.startswith("/apis/apps/v1/deployments?labelSelector=app.kubernetes.io/component")
        return {"items": self.deployments}

    def names(self, path):
        return list(self.crds)


@pytest.fixture
def paths(tmp_path):
    lab = LabPaths(tmp_path)
    lab.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    lab.kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: lab\ncontexts:\n- name: lab\n"
                              "  context: {cluster: lab, user: admin}\nclusters:\n- name: lab\n"
                              "  cluster: {server: 'https://127.0.0.1:6443'}\nusers: []\n")
    return lab


def test_the_charts_args_run_on_loopback_as_the_pods_service_account(paths):
    argv = operator_host.host_argv(Path("/bin/operator"), paths, 31000, _deployment(CHART_ARGS))
    assert argv[0] == "/bin/operator"
    assert "--kubelet-service=kube-system/kube-prometheus-stack-kubelet" in argv
    assert not [a for a in argv if a.startswith(("--web.enable-tls", "--web.cert-file", "--web.tls-min"))]
    assert [a for a in argv if a.startswith("--web.listen-address")] == ["--web.listen-address=127.0.0.1:31000"]
    assert "--apiserver=https://127.0.0.1:6443" in argv
    assert "--as=system:serviceaccount:monitoring:kube-prometheus-stack-operator" in argv


class Recorder(operator_host.OperatorHost):
    def __init__(self, api, paths):
        super().__init__(api, Path("/bin/operator"), paths, 31000)
        self.events = []

    def start_child(self, key):
        self.events.append(("start", key[0][-1]))
        self.running_key = key
        self.child = FakeChild()

    def stop_child(self, why):
        if self.child is not None:
            self.events.append(("stop", why))
        self.child, self.running_key = None, None


class FakeChild:
    returncode = None

    def poll(self):
        return self.returncode


def test_it_waits_for_the_crds_then_follows_the_deployment(paths):
    api = FakeApi([], ["foos.example.com"])
    host = Recorder(api, paths)
    host.step()
    assert host.events == []
    api.deployments = [_deployment(CHART_ARGS)]
    host.step()
    assert host.events == [], "without the Prometheus CRD the operator would start with its controllers off"
    api.crds = CRDS
    host.step()
    assert host.events == [("start", "--as=system:serviceaccount:monitoring:kube-prometheus-stack-operator")]
    host.step()
    assert len(host.events) == 1, "nothing changed: no restart"
    api.deployments = [_deployment(CHART_ARGS, account="other")]
    host.step()
    assert host.events[1:] == [("stop", "its Deployment or the CRDs changed"),
                               ("start", "--as=system:serviceaccount:monitoring:other")]
    host.child.returncode = 2
    host.step()
    assert host.events[-1] == ("start", "--as=system:serviceaccount:monitoring:other"), "an exited operator restarts"
    api.deployments = [_deployment(CHART_ARGS, replicas=0)]
    host.step()
    assert host.events[-1][0] == "stop"
    assert host.child is None


def test_it_stands_down_when_the_operator_pod_is_placed_on_a_real_node(paths):
    api = FakeApi([_deployment(CHART_ARGS)], CRDS)
    host = Recorder(api, paths)
    host.step()
    assert host.events[-1][0] == "start"
    placed = _deployment(CHART_ARGS)
    placed["spec"]["template"]["spec"]["nodeSelector"] = {"lab.homelab.io/real-node": "true"}
    api.deployments = [placed]
    host.step()
    assert host.events[-1][0] == "stop", "the real node runs the operator's own image: two operators would fight"
    assert host.child is None
