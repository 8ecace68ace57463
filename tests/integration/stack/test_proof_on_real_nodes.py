"""The proof against the stack running on the lab's real node, as `make lab` leaves it: a retention
changed through the role reaches the running Prometheus (the role writes the CR, the operator the
flags), and verify.yml fails prometheus.retention with both values, then passes again once the seed's
retention is back. Needs the lab's real nodes and the stack's images (`make lab` builds both); a lab
of kwok nodes only (make test's) has no Prometheus that runs, so the test is skipped there."""

import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import ApiserverTransport

from .deploy_playbook import deploy, verify

PROMETHEUS = "/api/v1/namespaces/monitoring/services/http:kube-prometheus-stack-prometheus:9090/proxy"


def _wait_enforced(lab, retention, timeout=240):
    """The operator writes the retention into Prometheus' configuration Secret; the kubelet syncs the
    Secret into the pod (about a minute) and the reloader makes Prometheus reload it: no restart, so
    the deploy's gate cannot see it. Wait until Prometheus enforces ``retention``."""
    apiserver = ApiserverTransport(KubeApi(lab.api_client()), timeout=10)
    deadline = time.monotonic() + timeout
    while True:
        seen = apiserver.request("GET", PROMETHEUS + "/api/v1/status/runtimeinfo").json()["data"]["storageRetention"]
        if seen.split(" ")[0] == retention:
            return seen
        assert time.monotonic() < deadline, "Prometheus still enforces %s after %ds" % (seen, timeout)
        time.sleep(5)


@pytest.fixture
def stack_on_real_nodes(lab, charts):
    if not int(lab.control.read_state().get("real_nodes") or 0):
        pytest.skip("needs a lab with real nodes running the stack: `make lab` (LAB_REAL_NODES=1 by default there)")
    rc, result, _stats, _s = deploy(lab.env())
    assert rc == 0, result.get("msg")
    return lab


def test_a_retention_changed_through_the_role_fails_the_proof(stack_on_real_nodes):
    lab = stack_on_real_nodes
    try:
        rc, result, _stats, _s = deploy(lab.env(), {"kube_prometheus_stack_prometheus_retention": "10d"})
        assert rc == 0, result.get("msg")
        _wait_enforced(lab, "10d")
        proc = verify(lab.env())
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert "prometheus.retention: effective retention (the configuration file's; the flag says 15d) is 10d, " \
               "expected 15d" in proc.stdout, proc.stdout[-3000:]
        assert "1 of " in proc.stdout and " checks failed" in proc.stdout, proc.stdout[-3000:]
    finally:
        rc, result, _stats, _s = deploy(lab.env())
    assert rc == 0, result.get("msg")
    _wait_enforced(lab, "15d")
    proc = verify(lab.env())
    assert proc.returncode == 0, proc.stdout[-3000:]
