"""tools/lab/labctl/stack_images.py: the stack's images as the charts name and run them."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from labctl import stack_images  # noqa: E402
from labctl.paths import Binaries, read_versions  # noqa: E402
from oci import config_and_layer  # noqa: E402


def _binaries(tmp_path, built=None):
    versions = read_versions()
    bins = Binaries(tmp_path, versions)
    for image in stack_images.STACK_IMAGES:
        if built is None or image.binary in built:
            path = stack_images.binary_path(image, bins)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\x7fELF " + image.binary.encode())
    return bins


def test_references_are_the_ones_the_pinned_charts_render(tmp_path):
    refs = {stack_images.reference(i, _binaries(tmp_path)) for i in stack_images.STACK_IMAGES}
    assert {"quay.io/prometheus/prometheus:v3.14.0-distroless", "quay.io/prometheus/alertmanager:v0.34.0",
            "quay.io/prometheus/node-exporter:v1.12.1-distroless",
            "quay.io/prometheus-operator/prometheus-operator:v0.93.1",
            "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
            "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0",
            "registry.k8s.io/autoscaling/vpa-recommender:1.7.1",
            "registry.k8s.io/metrics-server/metrics-server:v0.8.0"} == refs


def test_prometheus_runs_as_nobody_from_bin_with_a_data_dir_it_owns(tmp_path):
    bins = _binaries(tmp_path)
    prom = next(i for i in stack_images.STACK_IMAGES if i.binary == "prometheus")
    config, layer = config_and_layer(stack_images.spec(prom, bins))
    assert config["Entrypoint"] == ["/bin/prometheus"] and config["User"] == "65534:65534"
    data = layer.getmember("prometheus")
    assert data.isdir() and data.uid == 65534 and data.gid == 65534
    assert layer.getmember("bin/prometheus").mode == 0o755


def test_only_built_images_are_offered_and_the_rest_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(stack_images, "BUSYBOX", tmp_path / "no-busybox")
    bins = _binaries(tmp_path, built={"alertmanager"})
    assert [s.reference for s in stack_images.specs(bins)] == ["quay.io/prometheus/alertmanager:v0.34.0"]
    missing = stack_images.missing(bins)
    assert "quay.io/prometheus/prometheus:v3.14.0-distroless" in missing
    assert stack_images.BUSYBOX_REFERENCE in missing
    assert "quay.io/prometheus/alertmanager:v0.34.0" not in missing


def test_busybox_is_one_binary_with_the_applets_as_links(tmp_path, monkeypatch):
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF busybox")
    monkeypatch.setattr(stack_images, "BUSYBOX", busybox)
    _, layer = config_and_layer(stack_images.busybox_spec())
    chown = layer.getmember("bin/chown")
    assert chown.issym() and chown.linkname == "busybox"
    assert layer.extractfile("bin/busybox").read() == b"\x7fELF busybox"
