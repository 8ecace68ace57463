"""A pod the gate waits for on a node not Ready (or gone) ends the wait after the grace, naming the
node and its condition; at most one node request per poll, none while the workloads are healthy."""

from datetime import UTC, datetime

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApiError, Ref
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter

from tests.fakes.clock import Clock

STS_REF = Ref("apps/v1", "StatefulSet", "ns", "db")
NOW = datetime(2026, 12, 7, 1, 0, 0, tzinfo=UTC)


def sts(ready):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "ns", "generation": 1},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}}},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": ready, "availableReplicas": ready,
                       "currentReplicas": 1, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r1"}}


def pod(node="lab-worker-1", ready="False"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db-0", "namespace": "ns", "uid": "u1"},
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}}


def node(status, since="2026-12-07T00:59:50Z", name="lab-worker-1"):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": status, "reason": "NodeStatusUnknown",
                                       "message": "Kubelet stopped posting node status.",
                                       "lastTransitionTime": since}]}}


def waiter(api, clock, grace=40, wall=None):
    return Waiter(api, clock=clock, sleep=clock.sleep, node_grace=grace,
                  now=wall or (lambda: NOW.fromtimestamp(NOW.timestamp() + clock.now, UTC)))


def cluster(fake_api, nodes, pods):
    api = fake_api([sts(0)] + nodes)
    api.lists[("Pod", "ns", "app=db", None)] = pods
    return api


def test_a_pod_on_an_unknown_node_fails_after_the_grace_naming_the_node(fake_api):
    clock = Clock()
    api = cluster(fake_api, [node("Unknown")], [pod()])
    observations, done = waiter(api, clock).wait([STS_REF], 600)
    [obs] = observations
    assert not done and obs.health.final and obs.health.status == h.DEGRADED
    # 10 s since the transition when the wait starts: final 30 s later, not at 600
    assert 30 <= clock.now < 33
    msg = obs.health.message
    assert "pod ns/db-0 (of %s)" % STS_REF in msg
    assert "node lab-worker-1" in msg and "Ready=Unknown, reason NodeStatusUnknown" in msg
    assert "Kubelet stopped posting node status." in msg and "since 2026-12-07T00:59:50Z" in msg
    assert "cordon and drain" in msg


def test_a_node_lost_long_ago_is_final_at_the_first_poll(fake_api):
    clock = Clock()
    api = cluster(fake_api, [node("False", since="2026-12-06T00:00:00Z")], [pod()])
    observations, _ = waiter(api, clock).wait([STS_REF], 600)
    assert observations[0].health.final and clock.now == 0


def test_a_node_that_is_gone_counts_from_when_the_gate_saw_it(fake_api):
    clock = Clock()
    api = cluster(fake_api, [], [pod()])
    observations, _ = waiter(api, clock, grace=10).wait([STS_REF], 600)
    assert observations[0].health.final and "which no longer exists" in observations[0].health.message
    assert 10 <= clock.now < 13


def test_a_ready_node_keeps_the_wait_going_to_the_timeout(fake_api):
    clock = Clock()
    api = cluster(fake_api, [node("True")], [pod()])
    observations, done = waiter(api, clock).wait([STS_REF], 100)
    assert not done and not observations[0].health.final and clock.now == pytest.approx(100)


def test_one_node_request_per_poll_and_none_when_healthy(fake_api):
    clock = Clock()
    api = cluster(fake_api, [node("True")], [pod(), dict(pod("lab-worker-2"), metadata={"name": "db-1"})])
    api.put(node("True", name="lab-worker-2"))
    api.lists[("Node", None, None, None)] = [node("True"), node("True", name="lab-worker-2")]
    w = waiter(api, clock)
    w.observe([STS_REF])
    assert api.counts["LIST"] == 2  # the pods, then the two nodes in one LIST
    assert ("Node", "0") in api.list_resource_versions  # from the apiserver's watch cache
    w.observe([STS_REF])
    assert api.counts["LIST"] == 3  # the pods again; the nodes read less than 5 s ago are not read again
    clock.sleep(5)
    w.observe([STS_REF])
    assert api.counts["LIST"] == 5
    api.put(sts(1))
    before = dict(api.counts)
    w.observe([STS_REF])
    assert api.counts["LIST"] == before["LIST"] and api.counts["GET"] == before["GET"] + 1


def test_a_terminating_pod_on_a_lost_node_does_not_end_the_wait(fake_api):
    clock = Clock()
    leaving = pod()
    leaving["metadata"]["deletionTimestamp"] = "2026-12-07T00:59:55Z"
    api = cluster(fake_api, [node("Unknown", since="2026-12-06T00:00:00Z")], [leaving])
    observations, _ = waiter(api, clock).wait([STS_REF], 60)
    assert not observations[0].health.final and clock.now == pytest.approx(60)


def test_a_user_without_rights_on_nodes_gets_the_gate_without_the_check(fake_api, monkeypatch):
    """A namespace-scoped deploy user is refused the cluster's Nodes: the wait goes on to its timeout
    as it did before the check existed, and the refusal is asked once, not every poll."""
    clock = Clock()
    api = cluster(fake_api, [node("Unknown")], [pod()])
    asked = []

    def refuse(ref):
        if ref.kind == "Node":
            asked.append(ref.name)
            raise KubeApiError(403, "Forbidden", 'nodes "%s" is forbidden' % ref.name, "GET", "/api/v1/nodes")
        return type(api).get(api, ref)

    monkeypatch.setattr(api, "get", refuse)
    w = waiter(api, clock)
    observations, done = w.wait([STS_REF], 120)
    assert not done and not observations[0].health.final and clock.now >= 120
    assert asked == ["lab-worker-1"]
    assert "lost-node check is off for this run" in w.nodes.refused and "forbidden" in w.nodes.refused
