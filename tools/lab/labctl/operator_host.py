"""The real Prometheus Operator, run on the lab host in place of the chart's operator pod.

kwok only marks pods Ready; nothing inside them runs. The operator pod of kube-prometheus-stack is
the one whose work the stack's health depends on (it turns Prometheus and Alertmanager CRs into
StatefulSets and reports their status), so the lab runs the real binary of the chart's appVersion
for it: with the container args of the Deployment the chart rendered, as the Deployment's
ServiceAccount (impersonated, so the chart's RBAC is what it gets), listening on loopback only.

The host process follows the Deployment as a kubelet follows a pod: it starts the operator when
the Deployment and the monitoring.coreos.com CRDs exist (the operator turns off the controllers of
CRDs missing at its start), restarts it when the args, the ServiceAccount or that CRD set change
or when it exits, and stops it when the Deployment is gone.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from .kubeapi import ApiError, KubeApi, kubeconfig_server
from .paths import Binaries, LabPaths
from .realnodes import LABEL as REAL_NODE_LABEL

COMPONENT_LABEL = "app.kubernetes.io/component=prometheus-operator"
CRD_GROUP = "monitoring.coreos.com"
REQUIRED_CRD = f"prometheuses.{CRD_GROUP}"
# The pod serves its webhooks and metrics over TLS from a Secret mounted at a path of the pod;
# the host process listens on the lab's loopback port instead.
POD_ONLY_FLAGS = ("--web.enable-tls", "--web.cert-file", "--web.key-file", "--web.listen-address",
                  "--web.tls-min-version", "--web.client-ca-file")
CLIENT = "clients/prometheus-operator"
POLL_SECONDS = 5.0


def operator_deployment(api: KubeApi) -> dict | None:
    """The operator Deployment the chart installed (the oldest, if there are several)."""
    items = api.get(f"/apis/apps/v1/deployments?labelSelector={COMPONENT_LABEL}")["items"]
    items.sort(key=lambda d: d["metadata"].get("creationTimestamp", ""))
    return items[0] if items else None


def operator_container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    for container in containers:
        if "prometheus-operator" in container.get("image", ""):
            return container
    return containers[0]


def on_real_nodes(deployment: dict) -> bool:
    """Whether the Deployment's pods are placed on the lab's real nodes (which run its image)."""
    selector = deployment["spec"]["template"]["spec"].get("nodeSelector") or {}
    return selector.get(REAL_NODE_LABEL) == "true"


def monitoring_crds(api: KubeApi) -> tuple:
    names = api.names("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    return tuple(sorted(n for n in names if n.endswith("." + CRD_GROUP)))


def host_argv(binary: Path, paths: LabPaths, port: int, deployment: dict) -> list:
    """The operator's command line on the host for ``deployment``."""
    spec = deployment["spec"]["template"]["spec"]
    namespace = deployment["metadata"]["namespace"]
    account = spec.get("serviceAccountName") or "default"
    args = [a for a in operator_container(deployment).get("args") or []
            if a.split("=", 1)[0] not in POD_ONLY_FLAGS]
    pki = paths.pki
    return [
        str(binary), *args,
        f"--web.listen-address=127.0.0.1:{port}",
        f"--apiserver={kubeconfig_server(paths.kubeconfig)}",
        f"--ca-file={pki / 'ca.crt'}",
        f"--cert-file={pki / (CLIENT + '.crt')}",
        f"--key-file={pki / (CLIENT + '.key')}",
        f"--as=system:serviceaccount:{namespace}:{account}",
    ]


class OperatorHost:
    def __init__(self, api: KubeApi, binary: Path, paths: LabPaths, port: int):
        self.api, self.binary, self.paths, self.port = api, binary, paths, port
        self.child: subprocess.Popen | None = None
        self.running_key: tuple | None = None

    def desired(self) -> tuple | None:
        """(argv, CRDs) the operator should run with now, or None when it should not run."""
        deployment = operator_deployment(self.api)
        if deployment is None or (deployment["spec"].get("replicas", 1) or 0) < 1:
            return None
        if on_real_nodes(deployment):
            return None  # its pod runs the real operator image on a real node
        crds = monitoring_crds(self.api)
        if REQUIRED_CRD not in crds:
            return None
        return tuple(host_argv(self.binary, self.paths, self.port, deployment)), crds

    def stop_child(self, why: str) -> None:
        if self.child is None:
            return
        print(f"operator-host: stopping the operator (pid {self.child.pid}): {why}", flush=True)
        self.child.terminate()
        try:
            self.child.wait(15)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()
        self.child, self.running_key = None, None

    def start_child(self, key: tuple) -> None:
        argv, crds = key
        print(f"operator-host: starting the operator with {len(crds)} {CRD_GROUP} CRDs: {' '.join(argv)}",
              flush=True)
        self.child = subprocess.Popen(list(argv), stdout=sys.stdout, stderr=subprocess.STDOUT)
        self.running_key = key

    def step(self) -> None:
        try:
            key = self.desired()
        except (ApiError, OSError) as exc:
            print(f"operator-host: the apiserver did not answer ({exc}); trying again", flush=True)
            return
        if self.child is not None and self.child.poll() is not None:
            print(f"operator-host: the operator exited with {self.child.returncode}", flush=True)
            self.child, self.running_key = None, None
        if key is None:
            self.stop_child("no operator Deployment, or its CRDs are not installed")
        elif key != self.running_key:
            self.stop_child("its Deployment or the CRDs changed")
            self.start_child(key)

    def run(self) -> int:
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        while not stopping:
            self.step()
            deadline = time.monotonic() + POLL_SECONDS
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.2)
        self.stop_child("the lab is stopping")
        return 0


def main() -> int:
    paths = LabPaths.discover()
    port = json.loads(paths.ports_file.read_text())["prometheus-operator"]
    api = KubeApi.from_kubeconfig(paths.component_kubeconfig("prometheus-operator"), timeout=10)
    return OperatorHost(api, Binaries.discover().prometheus_operator, paths, port).run()
