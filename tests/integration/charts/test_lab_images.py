"""The lab's images (tools/lab/labctl: stack_images built from the Go proxy, standin_images for the
rest) carry exactly the references the real pinned charts render from the roles' values, so that the
real nodes' containerd has every image a pod of the stack names, and no stand-in is stale."""

from labctl import stack_images, standin_images  # tools/lab is on sys.path (conftest)
from labctl.paths import Binaries

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


def _images(stack):
    found = set()
    for objects in stack.values():
        for obj in objects:
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if annotations.get("helm.sh/hook") == HELM_TEST:
                continue
            for pod in _pod_specs(obj):
                for container in pod.get("containers", []) + pod.get("initContainers", []):
                    found.add(container["image"])
    return found


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
