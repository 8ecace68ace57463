"""The waiter: one GET per object per poll, stop on health, final failure or timeout."""

from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter, overall

from tests.fakes.clock import Clock


def ds(available, desired=1000):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "node-exporter", "namespace": "m",
                                                                         "generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": desired,
                       "updatedNumberScheduled": desired, "numberAvailable": available}}


class Sequence:
    """Returns successive versions of objects on each GET."""

    def __init__(self, versions):
        self.versions = versions
        self.gets = 0

    def get(self, ref):
        self.gets += 1
        seq = self.versions[ref.name]
        return seq.pop(0) if len(seq) > 1 else seq[0]


def test_daemonset_gate_costs_one_get_per_poll_whatever_the_node_count():
    api = Sequence({"node-exporter": [ds(10), ds(500), ds(1000)]})
    clock = Clock()
    waiter = Waiter(api, clock=clock, sleep=clock.sleep)
    observations, done = waiter.wait([Ref("apps/v1", "DaemonSet", "m", "node-exporter")], timeout=60)
    assert done and api.gets == waiter.polls == 3
    assert overall(observations) == h.HEALTHY


def test_timeout_returns_the_last_observation():
    api = Sequence({"node-exporter": [ds(10)]})
    clock = Clock()
    observations, done = Waiter(api, clock=clock, sleep=clock.sleep).wait(
        [Ref("apps/v1", "DaemonSet", "m", "node-exporter")], timeout=10)
    assert not done and clock.now == 10
    assert observations[0].health.status == h.PROGRESSING


def test_final_failure_ends_the_wait_early():
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}}
    api = Sequence({"j": [job]})
    clock = Clock()
    observations, done = Waiter(api, clock=clock, sleep=clock.sleep).wait([Ref("batch/v1", "Job", "m", "j")], 60)
    assert not done and clock.now == 0
    assert observations[0].health.status == h.DEGRADED


def test_healthy_objects_are_not_polled_again():
    api = Sequence({"a": [ds(1000)], "node-exporter": [ds(1), ds(1000)]})
    clock = Clock()
    refs = [Ref("apps/v1", "DaemonSet", "m", "a"), Ref("apps/v1", "DaemonSet", "m", "node-exporter")]
    _, done = Waiter(api, clock=clock, sleep=clock.sleep).wait(refs, 60)
    assert done and api.gets == 3


def test_missing_object_is_missing(fake_api):
    waiter = Waiter(fake_api())
    [obs] = waiter.observe([Ref("v1", "ConfigMap", "m", "nope")])
    assert obs.health.status == h.MISSING


def test_pvc_context_is_its_storage_class_fetched_once(fake_api):
    wffc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-path"},
            "volumeBindingMode": "WaitForFirstConsumer"}
    claims = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": n, "namespace": "m"},
               "spec": {"storageClassName": "local-path"}, "status": {"phase": "Pending"}} for n in ("a", "b")]
    api = fake_api([wffc] + claims)
    observations = Waiter(api).observe([Ref("v1", "PersistentVolumeClaim", "m", n) for n in ("a", "b")])
    assert [o.health.status for o in observations] == [h.HEALTHY, h.HEALTHY]
    assert api.counts["GET"] == 3
