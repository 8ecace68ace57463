"""Where the lab keeps its state and finds its binaries.

State lives under ``.lab/`` in the checkout (``LAB_DIR`` overrides it). Inside it,
``host/`` is the control-plane host root: the files a kubeadm host keeps under ``/etc/kubernetes``,
``/var/lib/etcd`` and ``/var/log`` live at the same relative paths below it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

LAB_TOOLS = Path(__file__).resolve().parent.parent
REPO_ROOT = LAB_TOOLS.parent.parent
VERSIONS_FILE = LAB_TOOLS / "versions.env"
BUILD_SCRIPT = LAB_TOOLS / "build.sh"

CONTROL_PLANE_NODE = "lab-cp-0"


class LabError(Exception):
    """A failure with a message that names the cause and the fix."""


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    versions = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


def cache_root() -> Path:
    if os.environ.get("LAB_CACHE"):
        return Path(os.environ["LAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "homelab-observability"


def charts_dir() -> Path:
    """Where `make charts` puts the pinned chart archives (LAB_CHARTS overrides)."""
    return Path(os.environ.get("LAB_CHARTS") or cache_root() / "charts")


@dataclass(frozen=True)
class Binaries:
    """The pinned binaries, in the directories build.sh fills."""

    root: Path
    versions: dict

    @classmethod
    def discover(cls) -> Binaries:
        return cls(cache_root() / "bin", read_versions())

    def _dir(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{self.versions[key]}"

    @property
    def kubernetes_version(self) -> str:
        return self.versions["KUBERNETES_VERSION"]

    def kubernetes(self, name: str, version: str | None = None) -> Path:
        return self.root / f"kubernetes-{version or self.kubernetes_version}" / name

    @property
    def etcd(self) -> Path:
        return self._dir("etcd", "ETCD_VERSION") / "etcd"

    @property
    def kwok(self) -> Path:
        return self._dir("kwok", "KWOK_VERSION") / "kwok"

    @property
    def kubectl(self) -> Path:
        return self.kubernetes("kubectl")

    @property
    def helm3(self) -> Path:
        return self._dir("helm", "HELM3_VERSION") / "helm"

    @property
    def helm4(self) -> Path:
        return self._dir("helm", "HELM4_VERSION") / "helm"

    @property
    def kube_state_metrics(self) -> Path:
        return self._dir("kube-state-metrics", "KSM_VERSION") / "kube-state-metrics"

    @property
    def prometheus_operator(self) -> Path:
        return self._dir("prometheus-operator", "PROMETHEUS_OPERATOR_VERSION") / "operator"

    @property
    def amtool(self) -> Path:
        return self._dir("amtool", "ALERTMANAGER_VERSION") / "amtool"

    @property
    def promtool(self) -> Path:
        return self._dir("promtool", "PROMETHEUS_VERSION") / "promtool"

    @property
    def coredns(self) -> Path:
        return self._dir("coredns", "COREDNS_VERSION") / "coredns"

    def control_plane(self) -> dict[str, Path]:
        """What `up` needs (helm and kube-state-metrics are for the tests, not the lab)."""
        return {
            "etcd": self.etcd,
            "kube-apiserver": self.kubernetes("kube-apiserver"),
            "kube-controller-manager": self.kubernetes("kube-controller-manager"),
            "kube-scheduler": self.kubernetes("kube-scheduler"),
            "kwok": self.kwok,
            "prometheus-operator": self.prometheus_operator,
        }

    def missing(self) -> list[str]:
        return [f"{name} ({path})" for name, path in self.control_plane().items() if not os.access(path, os.X_OK)]


@dataclass(frozen=True)
class LabPaths:
    root: Path

    @classmethod
    def discover(cls) -> LabPaths:
        root = os.environ.get("LAB_DIR") or str(REPO_ROOT / ".lab")
        return cls(Path(root).resolve())

    # the control-plane host root and what kubeadm keeps in it
    @property
    def host(self) -> Path:
        return self.root / "host"

    def on_host(self, host_path: str) -> Path:
        """The lab path of an absolute path on the control-plane host."""
        return self.host / host_path.lstrip("/")

    @property
    def kubernetes_dir(self) -> Path:
        return self.on_host("/etc/kubernetes")

    @property
    def pki(self) -> Path:
        return self.on_host("/etc/kubernetes/pki")

    @property
    def manifests(self) -> Path:
        return self.on_host("/etc/kubernetes/manifests")

    @property
    def apiserver_manifest(self) -> Path:
        return self.manifests / "kube-apiserver.yaml"

    @property
    def audit_policy(self) -> Path:
        return self.on_host("/etc/kubernetes/audit/policy.yaml")

    @property
    def default_audit_log(self) -> Path:
        return self.on_host("/var/log/kubernetes/audit/audit.log")

    @property
    def etcd_data(self) -> Path:
        return self.on_host("/var/lib/etcd")

    @property
    def pod_logs(self) -> Path:
        return self.on_host("/var/log/pods")

    # the lab's own bookkeeping
    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def static_pods(self) -> Path:
        """Status files the static-pod supervisor writes (one JSON per pod)."""
        return self.root / "static-pods"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def component_kubeconfig(self, name: str) -> Path:
        return self.kubernetes_dir / f"{name}.conf"

    def ensure(self) -> None:
        for d in (self.pki / "etcd", self.manifests, self.audit_policy.parent, self.default_audit_log.parent,
                  self.etcd_data, self.pod_logs, self.run, self.logs, self.static_pods, self.storage):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.etcd_data, 0o700)

    def purge(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
