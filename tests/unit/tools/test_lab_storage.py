"""The lab's provisioner (tools/lab/labctl/storage.py): a local-path claim on a real node gets a
``local`` volume on a filesystem of the claim's size (labctl/node_volumes.py), so it can fill and
the kubelet reports its usage; a claim on a kwok node keeps a plain directory."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl import node_volumes, storage  # noqa: E402
from labctl.kubeapi import ApiError  # noqa: E402
from labctl.paths import LabError  # noqa: E402
from labctl.realnodes import LABEL  # noqa: E402


class FakeApi:
    def __init__(self, nodes):
        self.nodes, self.created, self.deleted = nodes, [], []
        self.lists = {}

    def get(self, path):
        if path in self.lists:
            return {"items": self.lists[path]}
        name = path.rsplit("/", 1)[-1]
        if path.startswith("/api/v1/nodes/") and name in self.nodes:
            return {"metadata": {"name": name, "labels": self.nodes[name]}}
        raise ApiError(404, "not found", "GET", path)

    def create_or_exists(self, path, obj):
        self.created.append(obj)
        return True

    def delete(self, path):
        self.deleted.append(path)


def claim(node, size="64Mi"):
    ann = {storage.ANN_PROVISIONER: storage.LOCAL_PATH, storage.ANN_SELECTED_NODE: node}
    return {"metadata": {"name": "data", "namespace": "ns", "uid": "u1", "resourceVersion": "7", "annotations": ann},
            "spec": {"resources": {"requests": {"storage": size}}, "accessModes": ["ReadWriteOnce"]}}


LOCAL_PATH_CLASS = {"metadata": {"name": "local-path"}, "provisioner": storage.LOCAL_PATH,
                    "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"}


@pytest.fixture
def made(monkeypatch, tmp_path):
    calls = []

    def create(node_root, name, size):
        calls.append((node_root, name, size))
        return node_volumes.volumes_dir(node_root) / name

    monkeypatch.setattr(node_volumes, "create", create)
    return calls


def test_a_claim_on_a_real_node_gets_a_local_volume_of_its_own_size(tmp_path, made):
    api = FakeApi({"lab-node-1": {LABEL: "true"}})
    storage.Provisioner(api, tmp_path / "storage", tmp_path / "nodes").provision(claim("lab-node-1"), LOCAL_PATH_CLASS)
    assert made == [(tmp_path / "nodes" / "lab-node-1", "pvc-u1", 64 * 1024 * 1024)]
    spec = api.created[0]["spec"]
    assert spec["local"] == {"path": str(node_volumes.volumes_dir(tmp_path / "nodes" / "lab-node-1") / "pvc-u1")}
    assert "hostPath" not in spec
    assert spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["lab-node-1"]


def test_a_claim_on_a_kwok_node_keeps_a_directory(tmp_path, made):
    api = FakeApi({"kwok-node-0": {}})
    storage.Provisioner(api, tmp_path / "storage", tmp_path / "nodes").provision(claim("kwok-node-0"), LOCAL_PATH_CLASS)
    assert made == []
    spec = api.created[0]["spec"]
    assert "local" not in spec
    assert Path(spec["hostPath"]["path"]).is_relative_to(tmp_path / "storage" / "local-path")


def test_a_released_local_volume_is_unmounted_and_its_image_deleted(tmp_path, monkeypatch):
    removed = []
    monkeypatch.setattr(node_volumes, "remove", removed.append)
    path = node_volumes.volumes_dir(tmp_path / "nodes" / "lab-node-1") / "pvc-u1"
    pv = {"metadata": {"name": "pvc-u1", "annotations": {storage.ANN_PROVISIONED_BY: storage.LOCAL_PATH}},
          "spec": {"persistentVolumeReclaimPolicy": "Delete", "local": {"path": str(path)}},
          "status": {"phase": "Released"}}
    api = FakeApi({})
    storage.Provisioner(api, tmp_path / "storage", tmp_path / "nodes").reclaim(pv)
    assert removed == [path]
    assert api.deleted == ["/api/v1/persistentvolumes/pvc-u1"]


def test_a_path_outside_the_node_volumes_is_not_the_labs_to_remove(tmp_path):
    nodes = tmp_path / "nodes"
    assert node_volumes.owning_node_root(node_volumes.volumes_dir(nodes / "lab-node-2") / "pvc-x", nodes) \
        == nodes / "lab-node-2"
    assert node_volumes.owning_node_root(nodes / "lab-node-2" / "var" / "lib" / "kubelet", nodes) is None
    assert node_volumes.owning_node_root(Path("/data/pvc-x"), nodes) is None


@pytest.mark.parametrize(("value", "expected"), [("64Mi", 64 * 2**20), ("20Gi", 20 * 2**30), ("1G", 10**9),
                                                 ("500", 500), ("2Ti", 2 * 2**40), ("3k", 3000)])
def test_storage_requests_are_read_as_bytes(value, expected):
    assert storage.storage_bytes(value) == expected


def test_a_request_the_provisioner_cannot_read_names_itself():
    with pytest.raises(LabError, match=r"'1.5Gi'"):
        storage.storage_bytes("1.5Gi")


def test_a_claim_smaller_than_the_filesystem_needs_is_refused_with_the_minimum(tmp_path):
    with pytest.raises(LabError, match="at least 8 MiB"):
        node_volumes.create(tmp_path, "pvc-small", 1024 * 1024)


def test_a_volume_whose_pv_is_gone_is_removed_and_the_others_kept(tmp_path, monkeypatch):
    removed = []
    monkeypatch.setattr(node_volumes, "remove", removed.append)
    base = node_volumes.volumes_dir(tmp_path / "nodes" / "lab-node-1")
    base.mkdir(parents=True)
    for name in ("pvc-kept", "pvc-gone"):
        (base / f"{name}.ext4").write_bytes(b"")
    storage.Provisioner(FakeApi({}), tmp_path / "storage", tmp_path / "nodes").collect_orphans({"pvc-kept"})
    assert removed == [base / "pvc-gone"]


def test_a_volume_made_in_this_round_is_not_taken_for_an_orphan(tmp_path, monkeypatch, made):
    removed = []
    monkeypatch.setattr(node_volumes, "remove", removed.append)
    # on disk, the round's new volume is there beside the others
    monkeypatch.setattr(node_volumes, "all_volumes",
                        lambda root: [node_volumes.volumes_dir(node_root) / name for node_root, name, _ in made])
    api = FakeApi({"lab-node-1": {LABEL: "true"}})
    pending = claim("lab-node-1") | {"status": {"phase": "Pending"}}
    pending["spec"]["storageClassName"] = "local-path"
    api.lists = {"/apis/storage.k8s.io/v1/storageclasses": [LOCAL_PATH_CLASS],
                 "/api/v1/persistentvolumes": [], "/api/v1/persistentvolumeclaims": [pending]}
    storage.Provisioner(api, tmp_path / "storage", tmp_path / "nodes").once()
    assert [c[1] for c in made] == ["pvc-u1"]
    assert removed == []
