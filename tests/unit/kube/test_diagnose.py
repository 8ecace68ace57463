"""Diagnosis lines from pods, events and claims (YAML fixtures plus a fake API)."""

from pathlib import Path

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.kube import diagnose as dg
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Observation

CASES = yaml.safe_load((Path(__file__).parent / "fixtures" / "diagnose" / "pods.yml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_explain_pod(case):
    assert dg.explain_pod(case["pod"]) == case["expect"]


def pvc(class_name=..., phase="Pending"):
    spec = {} if class_name is ... else {"storageClassName": class_name}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "storage-loki-0", "namespace": "monitoring"}, "spec": spec, "status": {"phase": phase}}


@pytest.mark.parametrize(
    ("claim", "storage_class", "default", "expect"),
    [
        (pvc("nfs"), None, None, "StorageClass 'nfs' does not exist"),
        (pvc(), None, None, "no default StorageClass"),
        (pvc(""), None, None, "PersistentVolume created by hand"),
        (pvc("nfs-client"), {"metadata": {"name": "nfs-client"}, "provisioner": "x/nfs"}, None, "provisioner x/nfs"),
    ],
)
def test_explain_pvc(claim, storage_class, default, expect):
    [line] = dg.explain_pvc(claim, storage_class, default)
    assert expect in line and "monitoring/storage-loki-0" in line


def test_bound_claim_has_nothing_to_say():
    assert dg.explain_pvc(pvc("nfs", "Bound"), None) == []


def test_events_keep_warnings_once():
    events = [
        {"type": "Normal", "reason": "Scheduled", "message": "ok"},
        {"type": "Warning", "reason": "FailedScheduling", "message": "0/3 nodes", "lastTimestamp": "2"},
        {"type": "Warning", "reason": "FailedScheduling", "message": "0/3 nodes", "lastTimestamp": "3"},
    ]
    assert dg.explain_events(events, "pod p") == ["pod p: event FailedScheduling: 0/3 nodes"]


def test_statefulset_diagnosis_follows_pods_to_their_missing_storage_class(fake_api):
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "loki", "namespace": "monitoring"},
           "spec": {"selector": {"matchLabels": {"app": "loki"}}}}
    volume = {"name": "s", "persistentVolumeClaim": {"claimName": "storage-loki-0"}}
    unscheduled = {"type": "PodScheduled", "status": "False",
                   "message": "pod has unbound immediate PersistentVolumeClaims."}
    pod = {"metadata": {"name": "loki-0"}, "spec": {"volumes": [volume]},
           "status": {"phase": "Pending", "conditions": [unscheduled]}}
    api = fake_api([pvc("nfs")])
    api.lists[("Pod", "monitoring", "app=loki", None)] = [pod]
    obs = Observation(Ref.of(sts), sts, h.Health(h.PROGRESSING, "0 of 1 pods are ready"))
    lines = dg.Diagnoser(api).diagnose([obs])
    assert lines[0] == "StatefulSet monitoring/loki is Progressing: 0 of 1 pods are ready"
    assert any("unbound immediate PersistentVolumeClaims" in line for line in lines)
    assert any("StorageClass 'nfs' does not exist" in line for line in lines)


def test_healthy_objects_are_not_diagnosed(fake_api):
    obs = Observation(Ref("v1", "ConfigMap", "m", "c"), {}, h.Health(h.HEALTHY))
    assert dg.Diagnoser(fake_api()).diagnose([obs]) == []


def _operator(replicas, available):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "kube-prometheus-stack-operator", "namespace": "monitoring"},
            "spec": {"replicas": replicas}, "status": {"availableReplicas": available} if available else {}}


def _waiting_prometheus():
    prom = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
            "metadata": {"name": "kube-prometheus-stack-prometheus", "namespace": "monitoring", "generation": 3}}
    waiting = h.Health(h.PROGRESSING, "waiting for the operator to observe the latest spec")
    return Observation(Ref.of(prom), prom, waiting)


@pytest.mark.parametrize(("operators", "expect"), [
    ([_operator(0, 0)], "the Prometheus Operator is scaled to 0 (Deployment monitoring/kube-prometheus-stack-"
                        "operator spec.replicas=0): nothing reconciles the Prometheus and Alertmanager objects; "
                        "scale it back up"),
    ([_operator(1, 0)], "the Prometheus Operator has no available pod "
                        "(Deployment monitoring/kube-prometheus-stack-operator, 0 of 1 available)"),
    ([], "no Prometheus Operator Deployment exists (label app.kubernetes.io/component=prometheus-operator): "
         "nothing turns Prometheus and Alertmanager objects into workloads"),
])
def test_an_operated_object_waiting_names_the_operator_that_does_not_run(fake_api, operators, expect):
    api = fake_api()
    api.lists[("Deployment", None, dg.OPERATOR_SELECTOR, None)] = operators
    alertmanager = _waiting_prometheus()
    alertmanager.ref.kind = "Alertmanager"
    lines = dg.Diagnoser(api).diagnose([_waiting_prometheus(), alertmanager])
    assert lines[:2] == ["Prometheus monitoring/kube-prometheus-stack-prometheus is Progressing: waiting for the "
                         "operator to observe the latest spec", expect]
    assert sum(1 for line in lines if "Prometheus Operator" in line) == 1  # looked at once for both


def test_a_running_operator_adds_nothing(fake_api):
    api = fake_api()
    api.lists[("Deployment", None, dg.OPERATOR_SELECTOR, None)] = [_operator(1, 1)]
    lines = dg.Diagnoser(api).diagnose([_waiting_prometheus()])
    assert lines == ["Prometheus monitoring/kube-prometheus-stack-prometheus is Progressing: waiting for the "
                     "operator to observe the latest spec"]


def event(uid, reason, when, kind="Pod", name="db-0"):
    return {"type": "Warning", "reason": reason, "message": "%s of %s" % (reason, uid), "lastTimestamp": when,
            "involvedObject": {"kind": kind, "name": name, "uid": uid, "namespace": "ns"}}


def test_events_of_an_earlier_pod_with_the_same_name_are_not_quoted(fake_api):
    """A StatefulSet pod keeps its name when recreated: only the live pod's UID counts, and nothing
    older than its creation."""
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": "db", "namespace": "ns", "uid": "s1", "creationTimestamp": "2026-12-07T00:00:00Z"},
           "spec": {"selector": {"matchLabels": {"app": "db"}}}}
    pod = {"metadata": {"name": "db-0", "namespace": "ns", "uid": "new", "creationTimestamp": "2026-12-07T01:00:00Z"},
           "spec": {}, "status": {"phase": "Pending"}}
    api = fake_api()
    api.lists[("Pod", "ns", "app=db", None)] = [pod]
    api.lists[("Event", "ns", None, "type=Warning")] = [
        event("old", "FailedMount", "2026-12-07T00:30:00Z"),
        event("new", "FailedScheduling", "2026-12-07T01:00:05Z"),
        event(None, "BackOff", "2026-12-07T00:40:00Z"),  # no UID and older than the pod
        event("s0", "FailedCreate", "2026-12-06T23:00:00Z", kind="StatefulSet", name="db"),
        event("s1", "FailedCreate", "2026-12-07T00:10:00Z", kind="StatefulSet", name="db"),
    ]
    obs = Observation(Ref("apps/v1", "StatefulSet", "ns", "db"), sts, h.Health(h.PROGRESSING, "0 of 1 ready"))
    lines = dg.Diagnoser(api).diagnose([obs])
    text = "\n".join(lines)
    assert "FailedScheduling of new" in text and "FailedCreate of s1" in text
    assert "of old" not in text and "BackOff" not in text and "of s0" not in text
    assert api.counts["LIST"] == 2  # the pods, and the namespace's Warning events once
