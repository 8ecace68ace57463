"""A claim on a StorageClass that does not exist fails the health gate at the first poll."""

import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.deploy.lifecycle import deploy
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter

from tests.fakes.clock import Clock

CLASSES = [{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": n},
            "volumeBindingMode": "Immediate"} for n in ("local-path", "nfs-client")]
MONITORING_KINDS = {("monitoring.coreos.com/v1", "Prometheus"): ("prometheuses", True)}


def claim(name="data", storage_class="nfs", phase="Pending"):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "m"},
            "spec": {"storageClassName": storage_class}, "status": {"phase": phase}}


def statefulset(storage_class="nfs"):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "loki", "namespace": "m"},
            "spec": {"replicas": 1, "volumeClaimTemplates": [
                {"metadata": {"name": "storage"}, "spec": {"storageClassName": storage_class}}]},
            "status": {"readyReplicas": 0}}


@pytest.fixture
def cluster(fake_api):
    def make(objects, volumes=()):
        api = fake_api(CLASSES + list(objects), kinds=MONITORING_KINDS)
        api.lists[("StorageClass", None, None, None)] = CLASSES
        api.lists[("PersistentVolume", None, None, None)] = list(volumes)
        return api
    return make


def wait(api, ref, timeout=300):
    clock = Clock()
    [obs], done = Waiter(api, clock=clock, sleep=clock.sleep).wait([ref], timeout)
    return obs, done, clock.now


def test_claim_on_a_missing_class_fails_at_the_first_poll_naming_the_classes_that_exist(cluster):
    obs, done, waited = wait(cluster([claim()]), Ref("v1", "PersistentVolumeClaim", "m", "data"))
    assert not done and waited == 0
    assert obs.health.status == h.DEGRADED and obs.health.final
    assert obs.health.message == (
        "the claim names StorageClass 'nfs', which does not exist (the cluster has: local-path, nfs-client): "
        "set the storage class of this component to one of them, or create 'nfs'"
    )


def test_a_hand_made_volume_of_that_class_keeps_the_claim_waiting(cluster):
    volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv1"},
              "spec": {"storageClassName": "nfs"}, "status": {"phase": "Available"}}
    obs, done, waited = wait(cluster([claim()], volumes=[volume]), Ref("v1", "PersistentVolumeClaim", "m", "data"),
                             timeout=10)
    assert not done and waited == 10 and obs.health.status == h.PROGRESSING


def test_an_existing_class_costs_one_get_and_no_list(cluster):
    api = cluster([claim(storage_class="local-path")])
    obs, _, _ = wait(api, Ref("v1", "PersistentVolumeClaim", "m", "data"), timeout=1)
    assert obs.health.status == h.PROGRESSING and not obs.health.final
    assert api.counts["LIST"] == 0


def test_statefulset_template_on_a_missing_class_names_the_claim_it_makes(cluster):
    obs, done, waited = wait(cluster([statefulset()]), Ref("apps/v1", "StatefulSet", "m", "loki"))
    assert not done and waited == 0 and obs.health.final
    assert obs.health.message.startswith(
        "its claim PersistentVolumeClaim m/storage-loki-0 names StorageClass 'nfs', which does not exist")


def test_statefulset_whose_claim_is_bound_is_not_blamed_on_its_template(cluster):
    api = cluster([statefulset(), claim("storage-loki-0", phase="Bound")])
    obs, _, _ = wait(api, Ref("apps/v1", "StatefulSet", "m", "loki"), timeout=1)
    assert obs.health.status == h.PROGRESSING and not obs.health.final


def test_prometheus_storage_template_on_a_missing_class_is_final(cluster):
    prom = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "metadata": {"name": "k", "namespace": "m"},
            "spec": {"storage": {"volumeClaimTemplate": {"spec": {"storageClassName": "ceph"}}}}}
    obs, _, waited = wait(cluster([prom]), Ref("monitoring.coreos.com/v1", "Prometheus", "m", "k"))
    assert waited == 0 and obs.health.final
    assert "its storage (spec.storage.volumeClaimTemplate) names StorageClass 'ceph'" in obs.health.message


def test_component_fails_at_once_and_does_not_blame_the_timeout(cluster):
    api = cluster([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "m"}}])
    params = {"name": "loki", "namespace": "m", "manifests": [claim()], "wait": True, "wait_timeout": 600}
    t0 = time.monotonic()
    result = deploy(params, api)
    assert time.monotonic() - t0 < 5
    assert result["failed"] and result["health"] == h.DEGRADED
    assert result["msg"].startswith("loki: failed (waiting cannot fix it): PersistentVolumeClaim m/data is Degraded: "
                                    "the claim names StorageClass 'nfs', which does not exist")
    assert "after 600s" not in result["msg"]
