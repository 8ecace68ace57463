"""Stand-in images for the components that cannot be had here (AGPL, not Go modules, or refused by
the Go module proxy): small servers written in the project (``tools/lab/images/<name>``) that answer
the HTTP API the checks use, labelled as stand-ins in their OCI config (``STAND_IN_LABEL``).

Each is named with the exact reference the pinned chart (or the role's manifest) renders, so that
the real nodes' containerd finds it (``imagePullPolicy: IfNotPresent``), and laid out where the
chart depends on it: the entrypoint the chart does not override, the user it does not set, the
directories that user writes. ``docs/versions.md`` ("Stand-ins") says why each is a stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from .images import ImageSpec, lab_binary

STAND_IN_LABEL = "io.homelab.lab.stand-in"
ROOT, NOBODY = 0, 65534


@dataclass(frozen=True)
class StandIn:
    reference: str  # as the chart renders it (containerd's normalised form: docker.io/... for Docker Hub)
    source: str  # tools/lab/images/<source>
    path: str  # where the upstream image keeps its program
    stands_in_for: str
    cmd: tuple = ()
    user: str = ""  # only where the chart leaves the user to the image
    dirs: tuple = ()  # (path, uid) the image's user writes


SIDECAR = "kiwigrid k8s-sidecar (Python): copies labelled ConfigMaps/Secrets into a folder"
STAND_INS = (
    StandIn("docker.io/grafana/grafana:13.2.0", "grafana", "/usr/share/grafana/bin/grafana",
            "Grafana 13.2.0 (AGPL)", user="472", dirs=(("/var/lib/grafana", 472), ("/var/log/grafana", 472))),
    # kube-prometheus-stack's grafana subchart and the loki chart pin the sidecar differently
    StandIn("quay.io/kiwigrid/k8s-sidecar:2.10.1", "k8ssidecar", "/app/sidecar", SIDECAR, user=f"{NOBODY}"),
    StandIn("docker.io/kiwigrid/k8s-sidecar:2.5.0", "k8ssidecar", "/app/sidecar", SIDECAR, user=f"{NOBODY}"),
    StandIn("docker.io/grafana/loki:3.6.7", "loki", "/usr/bin/loki", "Loki 3.6.7 (AGPL)",
            cmd=("-config.file=/etc/loki/local-config.yaml",), user="10001", dirs=(("/loki", 10001),)),
    StandIn("docker.io/grafana/alloy:v1.18.1", "alloy", "/bin/alloy", "Grafana Alloy v1.18.1 (AGPL)",
            cmd=("run", "/etc/alloy/config.alloy", "--storage.path=/var/lib/alloy/data"),
            dirs=(("/var/lib/alloy/data", ROOT),)),
    StandIn("docker.io/louislam/uptime-kuma:2.2.1", "uptimekuma", "/app/uptime-kuma",
            "Uptime Kuma 2.2.1 (Node.js)", dirs=(("/app/data", ROOT),)),
    StandIn("ghcr.io/onedr0p/exportarr:v2.1.0", "exportarr", "/exportarr",
            "Exportarr v2.1.0 (the Go module proxy refuses github.com/onedr0p/exportarr@v2.1.0)", user=f"{NOBODY}"),
    StandIn("us-docker.pkg.dev/fairwinds-ops/oss/goldilocks:v4.16.1", "goldilocks", "/goldilocks",
            "Goldilocks v4.16.1 (the Go module proxy refuses github.com/fairwindsops/goldilocks/v4@v4.16.1)",
            user=f"{NOBODY}"),
    StandIn("ghcr.io/jkroepke/kube-webhook-certgen:1.8.7", "certgen", "/kube-webhook-certgen",
            "kube-webhook-certgen 1.8.7 (the Go module proxy refuses github.com/jkroepke/kube-webhook-certgen@v1.8.7)",
            user="65532"),
)


def spec(standin: StandIn, binary=None) -> ImageSpec:
    """The image of ``standin``; ``binary`` (a path) instead of the lab build, for tests."""
    return ImageSpec(standin.reference, {standin.path: binary or lab_binary(standin.source)},
                     entrypoint=(standin.path,), cmd=standin.cmd, user=standin.user,
                     dirs={path: (uid, 0o755) for path, uid in standin.dirs},
                     labels={STAND_IN_LABEL: f"lab stand-in for {standin.stands_in_for}: tools/lab/images/"
                                             f"{standin.source}"})


def specs() -> list[ImageSpec]:
    return [spec(s) for s in STAND_INS]
