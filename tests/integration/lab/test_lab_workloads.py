"""Workloads roll out on the lab through the real controllers, scheduler and kwok's pod stages,
and claims on the lab's StorageClasses really bind (PV controller + the lab's provisioner)."""

from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client

pytestmark = pytest.mark.lab

IMAGE = "registry.k8s.io/pause:3.10"


def wait_for(what: str, check, timeout: float = 90, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last is True:
            return
        time.sleep(interval)
    pytest.fail(f"{what} not reached within {timeout:.0f}s; last observation: {last}")


def pod_template(labels: dict, **spec) -> client.V1PodTemplateSpec:
    return client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image=IMAGE)], **spec))


@pytest.fixture
def namespace(lab):
    core = client.CoreV1Api(lab.api_client())
    name = f"lab-wl-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for("default ServiceAccount", lambda: bool(
        core.list_namespaced_service_account(name, field_selector="metadata.name=default").items), 90)
    yield name
    core.delete_namespace(name)


def test_nodes_are_ready_with_capacity_and_kubeadm_roles(lab):
    core = client.CoreV1Api(lab.api_client())
    nodes = core.list_node().items
    assert len(nodes) >= 1
    for node in nodes:
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True", node.metadata.name
        assert node.status.allocatable["cpu"] and node.status.allocatable["memory"], node.metadata.name
    cp = core.read_node("lab-cp-0")
    assert cp.metadata.labels["node-role.kubernetes.io/control-plane"] == ""
    assert [(t.key, t.effect) for t in cp.spec.taints] == [("node-role.kubernetes.io/control-plane", "NoSchedule")]


def test_deployment_statefulset_daemonset_job_become_healthy(lab, namespace):
    api = lab.api_client()
    apps, batch, core = client.AppsV1Api(api), client.BatchV1Api(api), client.CoreV1Api(api)
    ns = namespace

    apps.create_namespaced_deployment(ns, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(replicas=3, selector=client.V1LabelSelector(match_labels={"app": "web"}),
                                     template=pod_template({"app": "web"}))))
    core.create_namespaced_service(ns, client.V1Service(
        metadata=client.V1ObjectMeta(name="db"),
        spec=client.V1ServiceSpec(cluster_ip="None", selector={"app": "db"},
                                  ports=[client.V1ServicePort(port=5432)])))
    apps.create_namespaced_stateful_set(ns, client.V1StatefulSet(
        metadata=client.V1ObjectMeta(name="db"),
        spec=client.V1StatefulSetSpec(
            replicas=2, service_name="db", selector=client.V1LabelSelector(match_labels={"app": "db"}),
            template=pod_template({"app": "db"}),
            volume_claim_templates=[client.V1PersistentVolumeClaim(
                metadata=client.V1ObjectMeta(name="data"),
                spec=client.V1PersistentVolumeClaimSpec(
                    access_modes=["ReadWriteOnce"], storage_class_name="nfs-client",
                    resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"})))])))
    apps.create_namespaced_daemon_set(ns, client.V1DaemonSet(
        metadata=client.V1ObjectMeta(name="agent"),
        spec=client.V1DaemonSetSpec(selector=client.V1LabelSelector(match_labels={"app": "agent"}),
                                    template=pod_template({"app": "agent"}))))
    batch.create_namespaced_job(ns, client.V1Job(
        metadata=client.V1ObjectMeta(name="once"),
        spec=client.V1JobSpec(completions=2, backoff_limit=0,
                              template=pod_template({"app": "once"}, restart_policy="Never"))))

    def deployment_ready():
        s = apps.read_namespaced_deployment_status("web", ns).status
        return s.ready_replicas == 3 and s.updated_replicas == 3 or f"deployment {s}"

    def statefulset_ready():
        s = apps.read_namespaced_stateful_set_status("db", ns).status
        return s.ready_replicas == 2 and s.current_replicas == 2 or f"statefulset {s}"

    def claims_bound():
        claims = core.list_namespaced_persistent_volume_claim(ns).items
        phases = {c.metadata.name: c.status.phase for c in claims}
        return (len(claims) == 2 and set(phases.values()) == {"Bound"}) or f"claims {phases}"

    def daemonset_ready():
        s = apps.read_namespaced_daemon_set_status("agent", ns).status
        # every node but the tainted control plane runs one
        return (s.desired_number_scheduled >= 1 and s.number_ready == s.desired_number_scheduled
                and s.updated_number_scheduled == s.desired_number_scheduled) or f"daemonset {s}"

    def job_complete():
        s = batch.read_namespaced_job_status("once", ns).status
        return s.succeeded == 2 and any(c.type == "Complete" and c.status == "True"
                                        for c in s.conditions or []) or f"job {s}"

    for what, check in (("Deployment ready", deployment_ready), ("StatefulSet ready", statefulset_ready),
                        ("PVCs bound", claims_bound), ("DaemonSet ready", daemonset_ready),
                        ("Job complete", job_complete)):
        wait_for(what, check)

    nodes = core.list_node().items
    schedulable = [n for n in nodes if not any(t.effect == "NoSchedule" for t in n.spec.taints or [])]
    assert apps.read_namespaced_daemon_set_status("agent", ns).status.desired_number_scheduled == len(schedulable)
    # the volumes are real objects the PV controller bound, pre-bound to their claims by the provisioner
    for claim in core.list_namespaced_persistent_volume_claim(ns).items:
        pv = core.read_persistent_volume(claim.spec.volume_name)
        assert pv.spec.claim_ref.uid == claim.metadata.uid
        assert pv.spec.storage_class_name == "nfs-client"
        assert pv.metadata.annotations["pv.kubernetes.io/provisioned-by"] == \
            "cluster.local/nfs-subdir-external-provisioner"
        assert pv.status.phase == "Bound"
        # set by the PV controller in kube-controller-manager when it completes the binding
        assert claim.metadata.annotations["pv.kubernetes.io/bind-completed"] == "yes"
    pods = core.list_namespaced_pod(ns, label_selector="app=web").items
    assert all(p.status.pod_ip and p.spec.node_name for p in pods)


def test_local_path_claim_binds_on_the_node_the_scheduler_picked(lab, namespace):
    api = lab.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = namespace
    core.create_namespaced_persistent_volume_claim(ns, client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name="cache"),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"], storage_class_name="local-path",
            resources=client.V1VolumeResourceRequirements(requests={"storage": "2Gi"}))))
    time.sleep(2)
    # WaitForFirstConsumer: nothing binds before a pod uses the claim
    assert core.read_namespaced_persistent_volume_claim("cache", ns).status.phase == "Pending"
    apps.create_namespaced_deployment(ns, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="user"),
        spec=client.V1DeploymentSpec(
            replicas=1, selector=client.V1LabelSelector(match_labels={"app": "user"}),
            template=pod_template({"app": "user"}, volumes=[client.V1Volume(
                name="cache", persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(
                    claim_name="cache"))]))))

    def bound():
        claim = core.read_namespaced_persistent_volume_claim("cache", ns)
        return claim.status.phase == "Bound" or f"claim {claim.status.phase} {claim.metadata.annotations}"

    wait_for("local-path claim bound", bound)
    wait_for("pod ready", lambda: apps.read_namespaced_deployment_status("user", ns).status.ready_replicas == 1)
    claim = core.read_namespaced_persistent_volume_claim("cache", ns)
    node = claim.metadata.annotations["volume.kubernetes.io/selected-node"]
    pv = core.read_persistent_volume(claim.spec.volume_name)
    terms = pv.spec.node_affinity.required.node_selector_terms
    assert terms[0].match_expressions[0].values == [node]
    pod = core.list_namespaced_pod(ns, label_selector="app=user").items[0]
    assert pod.spec.node_name == node
