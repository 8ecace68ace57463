"""tools/lab/labctl: the real nodes' image archives, pod network and kubelet/containerd settings."""

import io
import ipaddress
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl import components, images, nodeservices, podnet, realnodes  # noqa: E402
from labctl.paths import Binaries, LabError, LabPaths  # noqa: E402
from labctl.processes import PidFiles, proc_start_ticks  # noqa: E402
from labctl.realnode_lifecycle import RealNodes  # noqa: E402


def _members(archive: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


@pytest.fixture
def binary(tmp_path):
    path = tmp_path / "server"
    path.write_bytes(b"\x7fELF not really")
    return path


def test_an_image_archive_names_the_reference_and_holds_the_files(binary):
    spec = images.ImageSpec("quay.io/prometheus/prometheus:v3.5.0", {"/bin/prometheus": binary},
                            entrypoint=("/bin/prometheus",))
    archive, digest = images.oci_archive(spec)
    files = _members(archive)
    index = json.loads(files["index.json"])
    entry = index["manifests"][0]
    assert entry["digest"] == digest
    assert entry["annotations"]["io.containerd.image.name"] == spec.reference
    manifest = json.loads(files[f"blobs/sha256/{digest[7:]}"])
    layer = files[f"blobs/sha256/{manifest['layers'][0]['digest'][7:]}"]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        member = tar.getmember("bin/prometheus")
        assert tar.extractfile(member).read() == binary.read_bytes()
        assert member.mode == 0o755 and member.uid == 0 and member.mtime == 0
    config = json.loads(files[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
    assert config["config"]["Entrypoint"] == ["/bin/prometheus"]


def test_an_image_config_carries_its_user_and_labels(binary):
    spec = images.ImageSpec("lab.local/x:v1", {"/x": binary}, user="65534:65534",
                            labels={"io.homelab.lab.stand-in": "true"})
    files = _members(images.oci_archive(spec)[0])
    manifest = json.loads(files[f"blobs/sha256/{images.oci_archive(spec)[1][7:]}"])
    config = json.loads(files[f"blobs/sha256/{manifest['config']['digest'][7:]}"])["config"]
    assert config["User"] == "65534:65534"
    assert config["Labels"] == {"io.homelab.lab.stand-in": "true"}
    plain = images.oci_archive(images.ImageSpec("lab.local/x:v1", {"/x": binary}))[1]
    assert plain != images.oci_archive(spec)[1]


def test_the_same_files_give_the_same_digest_and_other_files_another(binary, tmp_path):
    spec = images.ImageSpec("lab.local/x:v1", {"/x": binary})
    assert images.oci_archive(spec)[1] == images.oci_archive(spec)[1]
    other = tmp_path / "other"
    other.write_bytes(b"other")
    assert images.oci_archive(images.ImageSpec("lab.local/x:v1", {"/x": other}))[1] != images.oci_archive(spec)[1]


def test_a_reference_without_a_tag_is_refused(binary):
    with pytest.raises(LabError, match="has no tag"):
        images.oci_archive(images.ImageSpec("registry:5000/prometheus", {"/x": binary}))


@pytest.mark.parametrize(("raw", "state", "expected"), [(None, {}, 0), ("2", {}, 2), (None, {"real_nodes": 1}, 1),
                                                        ("0", {"real_nodes": 3}, 0)])
def test_lab_real_nodes_defaults_to_what_the_lab_has(raw, state, expected):
    environ = {} if raw is None else {"LAB_REAL_NODES": raw}
    assert realnodes.requested(state, environ) == expected


@pytest.mark.parametrize("raw", ["x", "-1", "16"])
def test_a_bad_lab_real_nodes_is_refused_naming_it(raw):
    with pytest.raises(LabError, match="LAB_REAL_NODES"):
        realnodes.requested({}, {"LAB_REAL_NODES": raw})


def test_node_addresses_and_pod_ranges_stay_inside_the_bridge_network():
    seen = set()
    for index in range(1, realnodes.MAX_NODES + 1):
        ip = ipaddress.ip_address(podnet.node_ip(index))
        start, end = (ipaddress.ip_address(a) for a in podnet.pod_range(index))
        assert {ip, start, end} <= set(podnet.NETWORK) and ip not in seen
        assert ipaddress.ip_network(f"{start}/24", strict=False) != ipaddress.ip_network(f"{ip}/24", strict=False)
        seen.add(ip)


def test_pods_get_no_default_route_and_no_masquerade(tmp_path):
    conf = podnet.cni_config(1, tmp_path)
    bridge = conf["plugins"][0]
    assert bridge["ipMasq"] is False and not bridge.get("isDefaultGateway")
    assert [r["dst"] for r in bridge["ipam"]["routes"]] == list(podnet.POD_ROUTES)
    assert "0.0.0.0/0" not in podnet.POD_ROUTES
    # the apiserver's Endpoints, which Prometheus scrapes directly, and nothing else of the node range
    assert "10.250.0.1/32" in podnet.POD_ROUTES and "10.250.0.0/16" not in podnet.POD_ROUTES


def test_containerd_sends_every_registry_to_a_closed_loopback_port(tmp_path):
    node = realnodes.RealNode(1, LabPaths(tmp_path))
    text = realnodes.containerd_config(node)
    assert f'config_path = "{node.on_node("/etc/containerd/certs.d")}"' in text
    assert 'server = "http://127.0.0.1:1"' in realnodes.REGISTRY_HOSTS
    assert "netns_mounts_under_state_dir = true" in text and str(tmp_path) in text


def test_the_kubelet_uses_the_lab_ca_its_own_root_and_no_host_resolver(tmp_path):
    node = realnodes.RealNode(2, LabPaths(tmp_path))
    conf = realnodes.kubelet_config(node, tmp_path / "pki")
    assert conf["authentication"]["x509"]["clientCAFile"] == str(tmp_path / "pki" / "ca.crt")
    assert conf["address"] == node.ip == "10.244.240.12"
    assert conf["resolvConf"] == str(node.on_node("/etc/resolv.conf"))
    assert conf["podLogsDir"].startswith(str(node.root))
    assert conf["clusterDNS"] == [realnodes.DNS_SERVICE_IP]
    assert conf["registerWithTaints"] == [realnodes.TAINT]


def test_coredns_forwards_nothing(tmp_path):
    plugins = [line.split()[0] for line in nodeservices.corefile(LabPaths(tmp_path), 1234).splitlines() if line.strip()]
    assert "forward" not in plugins and "bind" in plugins


def test_kwok_manages_only_the_simulated_nodes(tmp_path):
    argv = components.kwok(Binaries(tmp_path, {"KWOK_VERSION": "v0"}), LabPaths(tmp_path), {"kwok": 1})
    assert "--manage-all-nodes=true" not in argv
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in argv


def _real_nodes(root: Path):
    (root / "run").mkdir(parents=True)
    return RealNodes(LabPaths(root), Binaries(root / "bin", {}), PidFiles(root / "run"),
                     read_state=dict, write_state=lambda **_: None)


def test_down_leaves_another_labs_bridge_and_chains(tmp_path, monkeypatch):
    torn = []
    nodes = _real_nodes(tmp_path / "lab-b")
    monkeypatch.setattr(podnet, "bridge_owner", lambda: str(tmp_path / "lab-a"))
    monkeypatch.setattr(type(nodes), "_host_teardown", lambda self: torn.append("host") or ["bridge"])
    assert nodes.down() == []
    assert torn == []


@pytest.mark.parametrize("owner", ["", "lab-b"])
def test_down_removes_its_own_or_unowned_host_network(tmp_path, monkeypatch, owner):
    torn = []
    nodes = _real_nodes(tmp_path / "lab-b")
    monkeypatch.setattr(podnet, "bridge_owner", lambda: str(tmp_path / owner) if owner else "")
    monkeypatch.setattr(type(nodes), "_host_teardown", lambda self: torn.append("host") or ["bridge"])
    assert nodes.down() == ["bridge"]
    assert torn == ["host"]


def _record_pid(run: Path, name: str, pid: int, start_ticks) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / f"{name}.pid").write_text(json.dumps({"pid": pid, "start_ticks": start_ticks, "argv": [], "log": ""}))


def _bridge_of(monkeypatch, owner: Path, calls: list) -> None:
    monkeypatch.setattr(podnet.shutil, "which", lambda tool: "/usr/sbin/" + tool)
    monkeypatch.setattr(podnet, "bridge_exists", lambda: True)
    monkeypatch.setattr(podnet, "bridge_owner", lambda: str(owner))
    monkeypatch.setattr(podnet, "_run", lambda *argv, check=True: calls.append(argv) or
                        type("R", (), {"stdout": "", "returncode": 0})())
    monkeypatch.setattr(podnet, "_ensure_guard", lambda: calls.append(("guard",)))


def test_the_bridge_of_a_running_lab_is_refused_before_anything_changes(tmp_path, monkeypatch):
    other = tmp_path / "lab-a"
    _record_pid(other / "run", "kubelet-1", os.getpid(), proc_start_ticks(os.getpid()))
    calls = []
    _bridge_of(monkeypatch, other, calls)
    with pytest.raises(LabError, match=r"belongs to the lab in .*lab-a.*lab.py down"):
        podnet.ensure(tmp_path / "lab-b", 1, {})
    assert calls == []


@pytest.mark.parametrize("left", ["dead-process", "no-directory"])
def test_the_bridge_left_by_a_lab_that_runs_nothing_is_taken_over(tmp_path, monkeypatch, capsys, left):
    other = tmp_path / "lab-a"
    if left == "dead-process":
        _record_pid(other / "run", "kubelet-1", 2 ** 22 + 7, 12345)  # above pid_max: never alive
    calls = []
    _bridge_of(monkeypatch, other, calls)
    monkeypatch.setattr(podnet, "FORWARD_SYSCTL", tmp_path / "ip_forward")
    (tmp_path / "ip_forward").write_text("0\n")
    assert podnet.ensure(tmp_path / "lab-b", 1, {}) == {"ip_forward_before": "0"}
    assert ("ip", "link", "set", podnet.BRIDGE, "alias", str(tmp_path / "lab-b")) in calls
    assert "takes it over" in capsys.readouterr().out
