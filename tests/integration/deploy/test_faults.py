"""Issue 14's faults on the lab: an upgrade refused for an immutable field (explained, rolled back,
then recreated on request with the claim kept), a pod on a node that goes NotReady (final after the
grace, not at the timeout), and a diagnosis that does not quote an earlier pod of the same name."""

import datetime
import json
import subprocess
import time

import pytest
from deploy_helpers import CHARTS

pytestmark = pytest.mark.lab


def kubectl(lab, *args, stdin=None):
    proc = subprocess.run([str(lab.kubectl), "--kubeconfig", str(lab.kubeconfig), *args], input=stdin,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def timed(run, module, args):
    t0 = time.monotonic()
    result = run(module, args)
    return result, time.monotonic() - t0


def test_storage_class_change_of_a_statefulset_is_explained_then_recreated(lab, run, namespace, helm_paths):
    base = {"name": "logs", "namespace": namespace, "chart": {"ref": str(CHARTS / "loki-like")},
            "binary_path": helm_paths["v3"], "values": {"persistence": {"storageClass": "nfs-client"}},
            "wait_timeout": 120}
    first = run("release", base)
    assert not first.get("failed"), first.get("msg")
    claim = json.loads(kubectl(lab, "-n", namespace, "get", "pvc", "storage-logs-0", "-o", "json"))
    changed = dict(base, values={"persistence": {"storageClass": "local-path"}})

    refused, seconds = timed(run, "release", changed)
    print("immutable refusal explained in %.1fs" % seconds)
    assert refused.get("failed") and seconds < 15
    assert "StatefulSet %s/logs cannot be changed in place" % namespace in refused["msg"]
    assert "spec.volumeClaimTemplates[storage].spec.storageClassName (nfs-client -> local-path) is immutable" in \
        refused["msg"]
    assert "recreate_immutable=true" in refused["msg"]
    assert "rolled back to revision 1" in refused["msg"] and refused["rolled_back_to"] == 1
    history = json.loads(subprocess.run([helm_paths["v3"], "history", "logs", "-n", namespace, "-o", "json",
                                         "--kubeconfig", str(lab.kubeconfig)], capture_output=True, text=True,
                                        check=True).stdout)
    assert history[-1]["status"] == "deployed"

    recreated, seconds = timed(run, "release", dict(changed, recreate_immutable=True))
    print("recreated in %.1fs" % seconds)
    assert not recreated.get("failed"), recreated.get("msg")
    assert recreated["health"] == "Healthy" and recreated["recreated"] == ["StatefulSet %s/logs" % namespace]
    after = json.loads(kubectl(lab, "-n", namespace, "get", "pvc", "storage-logs-0", "-o", "json"))
    # the claim is the same object, with its old class: only new claims get the new one
    assert after["metadata"]["uid"] == claim["metadata"]["uid"]
    assert after["spec"]["storageClassName"] == "nfs-client"
    sts = json.loads(kubectl(lab, "-n", namespace, "get", "statefulset", "logs", "-o", "json"))
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "local-path"


def not_ready_node(lab, name):
    """A Node no kwok manages (no kwok.x-k8s.io/node annotation), its Ready condition False since now."""
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"type": "fault-test"}}}
    kubectl(lab, "apply", "-f", "-", stdin=json.dumps(node))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                                         "message": "container runtime is down (fault test)",
                                         "lastHeartbeatTime": now, "lastTransitionTime": now}]}}
    kubectl(lab, "patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))


def test_a_pod_on_a_node_that_is_not_ready_fails_after_the_grace(lab, run, namespace):
    node = "lost-%s" % namespace
    not_ready_node(lab, node)
    try:
        # nodeName binds the pod without the scheduler, as a pod already placed when its node went away
        deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                      "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                               "template": {"metadata": {"labels": {"app": "web"}},
                                            "spec": {"nodeName": node,
                                                     "containers": [{"name": "web", "image": "busybox:1.37"}]}}}}
        grace = 10
        result, seconds = timed(run, "release", {"name": "web", "namespace": namespace, "manifests": [deployment],
                                                 "wait_timeout": 300, "node_lost_grace": grace})
        print("node lost: failed in %.1fs (grace %ds)" % (seconds, grace))
        assert result.get("failed") and "failed (waiting cannot fix it)" in result["msg"]
        assert seconds < grace + 15
        assert "node %s, which is not Ready (Ready=False, reason KubeletNotReady" % node in result["msg"]
        assert "container runtime is down (fault test)" in result["msg"] and "cordon and drain" in result["msg"]
    finally:
        kubectl(lab, "delete", "node", node, "--ignore-not-found")


def test_the_diagnosis_ignores_events_of_an_earlier_pod_of_the_same_name(lab, run, namespace):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo", "namespace": namespace},
           "spec": {"nodeSelector": {"homelab.local/gpu": "h100"},
                    "containers": [{"name": "solo", "image": "busybox:1.37"}]}}
    kubectl(lab, "create", "namespace", namespace)
    kubectl(lab, "apply", "-f", "-", stdin=json.dumps(pod))
    old_uid = kubectl(lab, "-n", namespace, "get", "pod", "solo", "-o", "jsonpath={.metadata.uid}")
    # dated after the new pod's creation, so only the UID tells it apart
    later = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "solo.old", "namespace": namespace},
             "type": "Warning", "reason": "FailedMount", "message": "OLD-POD-EVENT volume of the earlier pod",
             "involvedObject": {"kind": "Pod", "name": "solo", "namespace": namespace, "uid": old_uid,
                                "apiVersion": "v1"},
             "firstTimestamp": later, "lastTimestamp": later, "count": 1, "source": {"component": "kubelet"}}
    kubectl(lab, "apply", "-f", "-", stdin=json.dumps(event))
    kubectl(lab, "-n", namespace, "delete", "pod", "solo", "--wait=true")
    result = run("release", {"name": "solo", "namespace": namespace, "manifests": [pod], "wait_timeout": 6})
    assert result.get("failed")
    text = "\n".join(result["diagnosis"])
    assert "is unschedulable" in text, text
    assert "OLD-POD-EVENT" not in text
