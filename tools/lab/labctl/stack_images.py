"""Images of the stack's real components, built from the Go module proxy (``build.sh stack``) or
taken from Debian, at the versions the pinned charts render (``versions.env``), named exactly as the
charts name them so that the real nodes' containerd finds them (``imagePullPolicy: IfNotPresent``).

Each image is laid out as its upstream image is where the charts depend on it: the same binary
path and entrypoint (the charts pass only ``args``), the same unprivileged user, and the data
directories that user writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .images import ImageSpec, Symlink
from .paths import Binaries

NOBODY = 65534
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static (tools/install-debian-deps.sh)
# the busybox applets the charts' init containers call (grafana's init-chown-data: chown, mkdir)
BUSYBOX_APPLETS = ("sh", "chown", "chmod", "mkdir", "ls", "cat", "sleep", "echo", "wget", "id")


@dataclass(frozen=True)
class StackImage:
    reference: str  # with {version}
    directory: str  # build.sh's bin/<directory>-<version>
    version_key: str  # versions.env
    binary: str  # file name in that directory
    path: str  # where the upstream image keeps it
    entrypoint: tuple = ()
    cmd: tuple = ()
    dirs: tuple = ()  # data directories the user owns
    user: str = f"{NOBODY}:{NOBODY}"
    labels: dict = field(default_factory=dict)


STACK_IMAGES = (
    StackImage("quay.io/prometheus/prometheus:{version}-distroless", "prometheus", "PROMETHEUS_VERSION",
               "prometheus", "/bin/prometheus", ("/bin/prometheus",),
               ("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"),
               ("/prometheus", "/etc/prometheus")),
    StackImage("quay.io/prometheus/alertmanager:{version}", "alertmanager", "ALERTMANAGER_VERSION",
               "alertmanager", "/bin/alertmanager", ("/bin/alertmanager",),
               ("--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"),
               ("/alertmanager", "/etc/alertmanager")),
    StackImage("quay.io/prometheus/node-exporter:{version}-distroless", "node-exporter", "NODE_EXPORTER_VERSION",
               "node_exporter", "/bin/node_exporter", ("/bin/node_exporter",)),
    StackImage("quay.io/prometheus-operator/prometheus-operator:{version}", "prometheus-operator",
               "PROMETHEUS_OPERATOR_VERSION", "operator", "/bin/operator", ("/bin/operator",)),
    StackImage("quay.io/prometheus-operator/prometheus-config-reloader:{version}", "prometheus-config-reloader",
               "PROMETHEUS_OPERATOR_VERSION", "prometheus-config-reloader", "/bin/prometheus-config-reloader",
               ("/bin/prometheus-config-reloader",)),
    StackImage("registry.k8s.io/kube-state-metrics/kube-state-metrics:{version}", "kube-state-metrics",
               "STACK_KSM_VERSION", "kube-state-metrics", "/kube-state-metrics",
               ("/kube-state-metrics", "--port=8080", "--telemetry-port=8081")),
    StackImage("registry.k8s.io/autoscaling/vpa-recommender:{version}", "vpa-recommender", "VPA_VERSION",
               "vpa-recommender", "/recommender", ("/recommender",)),
    StackImage("registry.k8s.io/metrics-server/metrics-server:{version}", "metrics-server",
               "METRICS_SERVER_VERSION", "metrics-server", "/metrics-server", ("/metrics-server",)),
)
BUSYBOX_REFERENCE = "docker.io/library/busybox:1.38.0"


def reference(image: StackImage, binaries: Binaries) -> str:
    version = binaries.versions[image.version_key]
    return image.reference.format(version=version.lstrip("v") if image.version_key == "VPA_VERSION" else version)


def binary_path(image: StackImage, binaries: Binaries) -> Path:
    return binaries.root / f"{image.directory}-{binaries.versions[image.version_key]}" / image.binary


def spec(image: StackImage, binaries: Binaries) -> ImageSpec:
    return ImageSpec(reference(image, binaries), {image.path: binary_path(image, binaries)},
                     entrypoint=image.entrypoint, cmd=image.cmd, user=image.user,
                     dirs={d: (NOBODY, 0o755) for d in image.dirs}, labels=dict(image.labels))


def busybox_spec() -> ImageSpec:
    files = {"/bin/busybox": BUSYBOX}
    files.update({f"/bin/{applet}": Symlink("busybox") for applet in BUSYBOX_APPLETS})
    return ImageSpec(BUSYBOX_REFERENCE, files, cmd=("sh",))


def missing(binaries: Binaries | None = None) -> list[str]:
    """The stack images whose binary is not built (``make lab-build`` builds them)."""
    binaries = binaries or Binaries.discover()
    gone = [reference(i, binaries) for i in STACK_IMAGES if not binary_path(i, binaries).exists()]
    return gone + ([BUSYBOX_REFERENCE] if not BUSYBOX.exists() else [])


def specs(binaries: Binaries | None = None) -> list[ImageSpec]:
    """The images of the stack whose binaries exist (a pod needing another fails to pull, as on a
    real node; ``missing()`` names them)."""
    binaries = binaries or Binaries.discover()
    out = [spec(i, binaries) for i in STACK_IMAGES if binary_path(i, binaries).exists()]
    return out + ([busybox_spec()] if BUSYBOX.exists() else [])
