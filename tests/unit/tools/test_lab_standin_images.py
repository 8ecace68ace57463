"""tools/lab/labctl/standin_images.py: the stand-ins' images, named as the stack names them and
labelled as stand-ins. The servers themselves: tests/unit/tools/test_lab_standin_servers.py."""

import json
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from labctl import images, stack_images, standin_images  # noqa: E402
from labctl.paths import read_versions  # noqa: E402
from oci import config_and_layer  # noqa: E402


def _defaults(role):
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())


def _spec(standin, tmp_path):
    binary = tmp_path / standin.source
    binary.write_bytes(b"\x7fELF " + standin.source.encode())
    return standin_images.spec(standin, binary)


def test_every_stand_in_says_so_in_its_config_and_runs_its_program(tmp_path):
    for standin in standin_images.STAND_INS:
        config, layer = config_and_layer(_spec(standin, tmp_path))
        label = config["Labels"][standin_images.STAND_IN_LABEL]
        assert label.startswith("lab stand-in for ") and standin.source in label
        assert config["Entrypoint"] == [standin.path]
        assert layer.getmember(standin.path.lstrip("/")).mode == 0o755


def test_each_source_is_a_go_program_of_the_lab_images_module():
    for standin in standin_images.STAND_INS:
        assert "package main" in (images.SOURCES / standin.source / "main.go").read_text()


def test_grafana_runs_as_472_with_a_data_dir_it_owns(tmp_path):
    grafana = next(s for s in standin_images.STAND_INS if s.source == "grafana")
    config, layer = config_and_layer(_spec(grafana, tmp_path))
    assert config["User"] == "472"
    data = layer.getmember("var/lib/grafana")
    assert data.isdir() and data.uid == 472


def test_the_manifest_roles_images_are_the_role_defaults():
    refs = {s.reference for s in standin_images.STAND_INS}
    exportarr, kuma = _defaults("exportarr"), _defaults("uptime_kuma")
    assert f"{exportarr['exportarr_image_repository']}:{exportarr['exportarr_image_tag']}" in refs
    # the role names a Docker Hub image without its registry: containerd's CRI looks it up as docker.io/...
    assert f"docker.io/{kuma['uptime_kuma_image_repository']}:{kuma['uptime_kuma_image_tag']}" in refs


def test_no_stand_in_shadows_a_real_image():
    real = {stack_images.reference(i, _bins()) for i in stack_images.STACK_IMAGES}
    assert not real & {s.reference for s in standin_images.STAND_INS}


def _bins():
    from labctl.paths import Binaries  # noqa: PLC0415

    return Binaries(Path("/nonexistent"), read_versions())


def test_the_alloy_config_reloader_override_is_the_reloader_the_lab_builds():
    real_nodes = yaml.safe_load((ROOT / "inventory/lab/group_vars/all/real_nodes.yml").read_text())
    assert real_nodes["lab_alloy_config_reloader_tag"] == read_versions()["PROMETHEUS_OPERATOR_VERSION"]
    # the chart prefers a digest over the tag: the override must clear it
    assert real_nodes["_lab_alloy_on_real_nodes"]["configReloader"]["image"]["digest"] == ""


def test_two_references_to_the_same_content_get_their_own_archives(tmp_path, monkeypatch):
    # the k8s-sidecar stand-in is one program under two registries' names: each import must name its own
    monkeypatch.setattr(images, "cache_root", lambda: tmp_path)
    sidecars = [s for s in standin_images.STAND_INS if s.source == "k8ssidecar"]
    archives = {images.cached_archive(_spec(s, tmp_path))[0] for s in sidecars}
    assert len(sidecars) == 2 and len(archives) == 2
    for standin in sidecars:
        path = images.cached_archive(_spec(standin, tmp_path))[0]
        with tarfile.open(path) as tar:
            index = json.loads(tar.extractfile("index.json").read())
        assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == standin.reference
