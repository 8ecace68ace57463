"""StorageClasses ``local-path`` and ``nfs-client`` and the provisioner behind them.

The StorageClasses name external provisioners (the ones a homelab runs: rancher's local-path
provisioner and nfs-subdir-external-provisioner). The real PV controller in
kube-controller-manager marks each claim for its provisioner
(``volume.kubernetes.io/storage-provisioner``); for ``WaitForFirstConsumer`` the real scheduler
picks the node (``volume.kubernetes.io/selected-node``). This provisioner then creates the
PersistentVolume, a hostPath directory under ``.lab/storage/<class>/``, pre-bound to the claim, and
the PV controller binds the two. Released volumes of reclaim policy Delete are deleted with their
directory, as the real provisioners do.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

from . import node_volumes
from .kubeapi import ApiError, KubeApi
from .paths import LabError, LabPaths
from .realnodes import LABEL as REAL_NODE_LABEL

LOCAL_PATH = "rancher.io/local-path"
NFS = "cluster.local/nfs-subdir-external-provisioner"
PROVISIONERS = {LOCAL_PATH, NFS}
ANN_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_PROVISIONER_BETA = "volume.beta.kubernetes.io/storage-provisioner"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
_STORAGE_SIZE = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$")


def storage_bytes(value: str) -> int:
    """A claim's storage request in bytes (the whole-number forms claims use: 64Mi, 20Gi, 1G, 500)."""
    match = _STORAGE_SIZE.match(str(value).strip())
    if not match:
        raise LabError(f"storage request {value!r}: the lab's provisioner reads whole numbers with "
                       f"Ki, Mi, Gi, Ti, k, M, G or T")
    unit = match.group(2) or ""
    power = " KMGT".index(unit[0].upper()) if unit else 0
    return int(match.group(1)) * (1024 if unit.endswith("i") else 1000) ** power


def storage_classes() -> list[dict]:
    def sc(name, provisioner, mode, default, params=None):
        meta = {"name": name, "labels": {"app.kubernetes.io/managed-by": "homelab-observability-lab"}}
        if default:
            meta["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
        return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta,
                "provisioner": provisioner, "reclaimPolicy": "Delete", "volumeBindingMode": mode,
                "allowVolumeExpansion": name == "nfs-client", "parameters": params or {}}
    return [
        sc("local-path", LOCAL_PATH, "WaitForFirstConsumer", True),
        sc("nfs-client", NFS, "Immediate", False, {"archiveOnDelete": "false"}),
    ]


def ensure_storage_classes(api: KubeApi) -> None:
    for obj in storage_classes():
        api.create_or_exists("/apis/storage.k8s.io/v1/storageclasses", obj)


class Provisioner:
    def __init__(self, api: KubeApi, storage_root: Path, nodes_root: Path):
        self.api, self.root, self.nodes_root = api, storage_root, nodes_root

    def is_real_node(self, name: str) -> bool:
        """A node of the lab's own kubelets (a kwok node has no disk to put a filesystem on)."""
        try:
            node = self.api.get(f"/api/v1/nodes/{name}")
        except ApiError:
            return False
        return (node["metadata"].get("labels") or {}).get(REAL_NODE_LABEL) == "true"

    def classes(self) -> dict:
        items = self.api.get("/apis/storage.k8s.io/v1/storageclasses")["items"]
        return {sc["metadata"]["name"]: sc for sc in items if sc.get("provisioner") in PROVISIONERS}

    def provision(self, pvc: dict, sc: dict) -> None:
        meta, spec = pvc["metadata"], pvc["spec"]
        ann = meta.get("annotations") or {}
        if (ann.get(ANN_PROVISIONER) or ann.get(ANN_PROVISIONER_BETA)) != sc["provisioner"]:
            return  # the PV controller has not handed this claim to a provisioner yet
        node = ann.get(ANN_SELECTED_NODE)
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not node:
            return  # the scheduler picks the node first
        pv_name = f"pvc-{meta['uid']}"
        pv_spec = {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
            "storageClassName": sc["metadata"]["name"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                         "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
        }
        if sc["provisioner"] == LOCAL_PATH and node:
            pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
        if sc["provisioner"] == LOCAL_PATH and node and self.is_real_node(node):
            size = storage_bytes(spec["resources"]["requests"]["storage"])
            mount_point = node_volumes.create(self.nodes_root / node, pv_name, size)
            pv_spec["local"] = {"path": str(mount_point)}
        else:
            directory = self.root / sc["metadata"]["name"] / f"{meta['namespace']}_{meta['name']}_{pv_name}"
            directory.mkdir(parents=True, exist_ok=True)
            # as rancher's local-path provisioner does: the pod's user (Prometheus runs as 1000, the
            # chart's fsGroup does not apply to hostPath volumes) must be able to write it
            directory.chmod(0o777)
            pv_spec["hostPath"] = {"path": str(directory), "type": "DirectoryOrCreate"}
        pv = {"apiVersion": "v1", "kind": "PersistentVolume",
              "metadata": {"name": pv_name, "annotations": {ANN_PROVISIONED_BY: sc["provisioner"]}},
              "spec": pv_spec}
        if self.api.create_or_exists("/api/v1/persistentvolumes", pv):
            print(f"provisioner: {pv_name} for {meta['namespace']}/{meta['name']} ({sc['metadata']['name']})",
                  flush=True)

    def reclaim(self, pv: dict) -> None:
        meta, spec = pv["metadata"], pv["spec"]
        if (meta.get("annotations") or {}).get(ANN_PROVISIONED_BY) not in PROVISIONERS:
            return
        if pv.get("status", {}).get("phase") != "Released" or spec.get("persistentVolumeReclaimPolicy") != "Delete":
            return
        path = Path(spec.get("hostPath", {}).get("path", ""))
        local = Path(spec.get("local", {}).get("path", "/"))
        if path.is_relative_to(self.root):
            shutil.rmtree(path, ignore_errors=True)
        elif node_volumes.owning_node_root(local, self.nodes_root):
            node_volumes.remove(local)
        self.api.delete(f"/api/v1/persistentvolumes/{meta['name']}")
        print(f"provisioner: deleted {meta['name']}", flush=True)

    def once(self) -> None:
        classes = self.classes()
        existing_pvs = self.api.get("/api/v1/persistentvolumes")["items"]
        pv_names = {pv["metadata"]["name"] for pv in existing_pvs}
        for pvc in self.api.get("/api/v1/persistentvolumeclaims")["items"]:
            sc = classes.get(pvc["spec"].get("storageClassName") or "")
            if sc is None or pvc["spec"].get("volumeName") or pvc.get("status", {}).get("phase") != "Pending":
                continue
            if pvc["metadata"].get("deletionTimestamp") or f"pvc-{pvc['metadata']['uid']}" in pv_names:
                continue
            self.provision(pvc, sc)
            pv_names.add(f"pvc-{pvc['metadata']['uid']}")  # not an orphan: its PV is new
        for pv in existing_pvs:
            self.reclaim(pv)
        self.collect_orphans(pv_names)

    def collect_orphans(self, pv_names: set) -> None:
        """Volumes of real nodes whose PersistentVolume is gone (deleted while the lab was down)."""
        for mount_point in node_volumes.all_volumes(self.nodes_root):
            if mount_point.name not in pv_names:
                node_volumes.remove(mount_point)
                print(f"provisioner: removed the orphaned volume {mount_point}", flush=True)

    def run(self, interval: float = 1.0) -> int:
        print(f"provisioner: serving {', '.join(sorted(PROVISIONERS))} under {self.root}", flush=True)
        while True:
            try:
                self.once()
            except (OSError, ApiError, KeyError, LabError) as exc:
                print(f"provisioner: {exc!r}", file=sys.stderr, flush=True)
            time.sleep(interval)


def main() -> int:
    paths = LabPaths.discover()
    api = KubeApi.from_kubeconfig(paths.component_kubeconfig("provisioner"), timeout=10)
    return Provisioner(api, paths.storage, paths.root / "nodes").run()
