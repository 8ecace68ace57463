"""Simulated nodes: Node objects that kwok keeps Ready (its node-initialize and
node-heartbeat-with-lease stages) and whose pods it runs (pod-ready, pod-complete, pod-delete).

Node 0 is the control plane, labelled and tainted as kubeadm does; the others are workers.
Capacity and allocatable are set at registration (as a kubelet does), so capacity queries have
numbers. Nodes are created concurrently: 1000 nodes take a few seconds.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from .kubeapi import ApiError, KubeApi
from .paths import CONTROL_PLANE_NODE, LabError

WORKER_PREFIX = "lab-worker-"
CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
ALLOCATABLE = {"cpu": "3800m", "memory": "15Gi", "pods": "110", "ephemeral-storage": "95Gi"}


def node_names(count: int) -> list[str]:
    if count < 1:
        raise LabError(f"LAB_NODES={count}: the lab needs at least 1 node (the control plane)")
    return [CONTROL_PLANE_NODE] + [f"{WORKER_PREFIX}{i}" for i in range(1, count)]


def node_object(name: str, index: int) -> dict:
    control_plane = name == CONTROL_PLANE_NODE
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "type": "kwok",
    }
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    ip = f"10.250.{index // 250}.{index % 250 + 1}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}
        if control_plane else {},
        "status": {
            "capacity": CAPACITY,
            "allocatable": ALLOCATABLE,
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "osImage": "kwok simulated node",
                         "kubeletVersion": "", "containerRuntimeVersion": "", "kernelVersion": "",
                         "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": ""},
        },
    }


def reconcile(api: KubeApi, count: int, parallel: int = 16) -> tuple[int, int]:
    """Create missing nodes and delete lab workers beyond ``count``; (created, deleted)."""
    wanted = node_names(count)
    existing = set(api.names("/api/v1/nodes"))
    to_create = [(i, n) for i, n in enumerate(wanted) if n not in existing]
    wanted_set = set(wanted)
    to_delete = [n for n in existing if n.startswith(WORKER_PREFIX) and n not in wanted_set]

    def create(item):
        index, name = item
        for attempt in range(5):
            try:
                return api.create_or_exists("/api/v1/nodes", node_object(name, index))
            except (ApiError, OSError) as exc:
                if attempt == 4 or (isinstance(exc, ApiError) and exc.status < 500 and exc.status != 429):
                    raise LabError(f"cannot create node {name}: {exc}") from exc
                time.sleep(0.2 * (attempt + 1))
        return False

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        created = sum(1 for ok in pool.map(create, to_create) if ok)
        list(pool.map(lambda n: api.delete(f"/api/v1/nodes/{n}"), to_delete))
    return created, len(to_delete)


def release_leases(api: KubeApi) -> None:
    """Delete the node leases before a new kwok starts. kwok (re)takes a node only once it holds
    the node's lease, and the previous kwok's leases (another holder identity) would otherwise
    block it for their full 40 s duration: pods on those nodes would stay Pending meanwhile."""
    api.request("DELETE", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")


def ready_count(api: KubeApi) -> tuple[int, int]:
    items = api.get("/api/v1/nodes?resourceVersion=0")["items"]
    ready = 0
    for n in items:
        for cond in n.get("status", {}).get("conditions") or []:
            if cond["type"] == "Ready" and cond["status"] == "True":
                ready += 1
    return ready, len(items)


def wait_ready(api: KubeApi, count: int, timeout: float) -> float:
    start = time.monotonic()
    ready, total = 0, 0
    while time.monotonic() - start < timeout:
        ready, total = ready_count(api)
        if ready >= count:
            return time.monotonic() - start
        time.sleep(0.5)
    raise LabError(f"only {ready} of {count} nodes became Ready within {timeout:.0f}s "
                   f"({total} Node objects); see .lab/logs/kwok.log")
