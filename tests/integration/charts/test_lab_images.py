"""The lab's images (tools/lab/labctl: stack_images built from the Go proxy, standin_images for the
rest) carry exactly the references the real pinned charts render from the roles' values, so that the
real nodes' containerd has every image a pod of the stack names, and no stand-in is stale."""

import sys
from pathlib import Path

import pytest
from labctl import realnodes, stack_images, standin_images  # tools/lab is on sys.path (conftest)
from labctl.paths import Binaries

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "tools"))
from lab_inventory import lab_vars  # noqa: E402

# the charts' helm test Pods (`helm test`), which the deploy never runs
HELM_TEST = "test"
# the alloy chart pins its reloader by digest; inventory/lab replaces it with the lab-built one
DIGEST_PINNED = "quay.io/prometheus-operator/prometheus-config-reloader:v0.91.0@sha256:"


def _pod_specs(obj):
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return [spec]
    if obj["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    return [spec["template"]["spec"]] if "template" in spec else []


def _pods(stack):
    """(release, object, pod spec) of every pod the deploy creates (the charts' helm tests left out)."""
    for release, objects in stack.items():
        for obj in objects:
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if annotations.get("helm.sh/hook") == HELM_TEST:
                continue
            for pod in _pod_specs(obj):
                yield release, obj, pod


def _images(stack):
    return {c["image"] for _, _, pod in _pods(stack) for c in pod.get("containers", []) + pod.get("initContainers", [])}


# what inventory/lab overrides for the charts when the lab has real nodes (real_nodes.yml)
LAB_CHART_VARS = ("kube_prometheus_stack_values_overrides", "loki_values_overrides", "alloy_values_overrides",
                  "vpa_values_overrides", "vpa_metrics_server_enabled", "goldilocks_values_overrides",
                  "alloy_audit_log_dir", "alloy_positions_host_path")


@pytest.fixture(scope="module")
def on_real_nodes(rendered, tmp_path_factory):
    """The charts as `make lab` renders them on a lab with a real node."""
    lab_dir = tmp_path_factory.mktemp("lab")
    return rendered(**lab_vars(lab_dir, {"real_nodes": 1}, names=LAB_CHART_VARS))


def test_every_image_the_charts_render_is_one_the_lab_builds(rendered):
    built = {stack_images.reference(i, Binaries.discover()) for i in stack_images.STACK_IMAGES}
    built |= {stack_images.BUSYBOX_REFERENCE} | {s.reference for s in standin_images.STAND_INS}
    rendered_images = _images(rendered())
    missing = {i for i in rendered_images - built if not i.startswith(DIGEST_PINNED)}
    assert not missing, "images no lab image provides: %s" % sorted(missing)
    assert any(i.startswith(DIGEST_PINNED) for i in rendered_images), "the alloy reloader pin changed: update " \
        "inventory/lab/group_vars/all/real_nodes.yml and this test"


def test_every_chart_stand_in_is_rendered(rendered):
    rendered_images = _images(rendered())
    # Uptime Kuma and Exportarr are the roles' own manifests, not charts (tests/unit/tools/test_lab_standin_images.py)
    from_charts = {s.reference for s in standin_images.STAND_INS if s.source not in ("uptimekuma", "exportarr")}
    assert from_charts - rendered_images == set()


def test_on_real_nodes_every_pod_asks_for_them_and_uses_the_imported_image(on_real_nodes):
    """The lab has no registry: a pod that pulls `Always` never starts (the vpa and goldilocks charts'
    default), and one without the real-node selector lands on a kwok node, where nothing runs."""
    pods = list(_pods(on_real_nodes))
    assert {release for release, _, _ in pods} >= {"kube-prometheus-stack", "loki", "alloy", "vpa", "goldilocks"}
    for release, obj, pod in pods:
        where = "%s %s/%s" % (release, obj["kind"], obj["metadata"]["name"])
        assert (pod.get("nodeSelector") or {}).get(realnodes.LABEL) == "true", where
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            assert container.get("imagePullPolicy") != "Always", "%s container %s" % (where, container["name"])
