"""The proof against the stack running on the lab's real node, as `make lab` leaves it: a retention
changed through the role reaches the running Prometheus (the role writes the CR, the operator the
flags), and verify.yml fails prometheus.retention with both values, then passes again once the seed's
retention is back. Needs the lab's real nodes and the stack's images (`make lab` builds both); a lab
of kwok nodes only (make test's) has no Prometheus that runs, so the test is skipped there."""

import pytest

from .deploy_playbook import deploy, verify


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
        proc = verify(lab.env())
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert "prometheus.retention: --storage.tsdb.retention.time is 10d, expected 15d" in proc.stdout, \
            proc.stdout[-3000:]
        assert "1 of " in proc.stdout and " checks failed" in proc.stdout, proc.stdout[-3000:]
    finally:
        rc, result, _stats, _s = deploy(lab.env())
    assert rc == 0, result.get("msg")
    proc = verify(lab.env())
    assert proc.returncode == 0, proc.stdout[-3000:]
