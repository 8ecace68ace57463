"""What the real nodes share: kube-proxy (Services) and CoreDNS (cluster DNS).

The real nodes are processes of one machine, in its one network namespace, so one kube-proxy
(iptables mode) programs the Services for all of them; it runs as the first real node. CoreDNS runs
on this machine too (like the lab's other host processes), answering on the pod bridge's gateway,
and the ``kube-dns`` Service (10.96.0.10, what every kubelet puts in the pods' resolv.conf) points
at it through an EndpointSlice the lab writes. CoreDNS serves ``cluster.local`` and the reverse
zones only: it forwards nothing, so no name a pod asks for leaves the machine.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import yaml

from . import podnet
from .components import python_entry
from .kubeapi import ApiError, KubeApi
from .paths import Binaries, LabError, LabPaths
from .pki import CertSpec, make_cert, write_kubeconfig
from .processes import tail
from .realnodes import CLUSTER_DOMAIN, DNS_SERVICE_IP, RealNode, write_if_changed

KUBE_PROXY = "kube-proxy"
KUBE_PROXY_HEALTHZ_PORT = 10256
COREDNS = "coredns"
APISERVER_BRIDGE = "apiserver-bridge"
PROCESSES = [KUBE_PROXY, COREDNS, APISERVER_BRIDGE]
DNS_SERVICE = "kube-dns"
MANAGED_BY = "lab.homelab.io"


def kube_proxy_config(paths: LabPaths, first: RealNode) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(paths.component_kubeconfig("kube-proxy"))},
        "hostnameOverride": first.name,
        "mode": "iptables",
        "bindAddress": first.ip,
        "healthzBindAddress": f"{first.ip}:{KUBE_PROXY_HEALTHZ_PORT}",
        "metricsBindAddress": f"{first.ip}:10249",
        # traffic from outside this range to a Service is masqueraded (as on any cluster), and it is
        # all on the bridge: there is no way out of the machine
        "clusterCIDR": str(podnet.NETWORK),
        "nodePortAddresses": [str(podnet.NETWORK)],
        "iptables": {"localhostNodePorts": False},
        # 0: leave this machine's conntrack settings as they are
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }


def corefile(paths: LabPaths, ready_port: int) -> str:
    conf = paths.component_kubeconfig("coredns")
    return (f".:53 {{\n    bind {podnet.GATEWAY}\n    errors\n    ready 127.0.0.1:{ready_port}\n"
            f"    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{\n        kubeconfig {conf}\n"
            f"        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n    }}\n    cache 30\n}}\n")


def write_files(paths: LabPaths, first: RealNode, server: str, ready_port: int) -> None:
    pki = paths.pki
    make_cert(pki, CertSpec("clients/kube-proxy", "ca", "system:kube-proxy", client=True))
    # reads Services, EndpointSlices, Namespaces and Pods cluster-wide (what system:coredns grants in kubeadm)
    make_cert(pki, CertSpec("clients/coredns", "ca", "lab-coredns", ("system:masters",), client=True))
    write_kubeconfig(paths.component_kubeconfig("kube-proxy"), server, pki, client="clients/kube-proxy",
                     user="system:kube-proxy")
    write_kubeconfig(paths.component_kubeconfig("coredns"), server, pki, client="clients/coredns", user="lab-coredns")
    write_if_changed(paths.run / "kube-proxy.yaml", yaml.safe_dump(kube_proxy_config(paths, first)))
    write_if_changed(paths.run / "Corefile", corefile(paths, ready_port))


def apiserver_bridge_argv() -> list[str]:
    return python_entry(APISERVER_BRIDGE)


def kube_proxy_argv(bins: Binaries, paths: LabPaths) -> list[str]:
    return [str(bins.kubernetes("kube-proxy")), f"--config={paths.run / 'kube-proxy.yaml'}", "--v=1"]


def coredns_argv(bins: Binaries, paths: LabPaths) -> list[str]:
    return [str(bins.coredns), "-conf", str(paths.run / "Corefile")]


def kube_proxy_cleanup(bins: Binaries) -> None:
    """kube-proxy's own removal of its rules (iptables, and nftables where it wrote any)."""
    binary = bins.kubernetes("kube-proxy")
    if binary.exists():
        subprocess.run([str(binary), "--cleanup"], capture_output=True, check=False)


def ensure_kubelet_api_access(api: KubeApi) -> None:
    """The binding kubeadm's init creates: the apiserver's kubelet client (group kubeadm:cluster-admins)
    is cluster-admin, which the kubelets' webhook authorization asks about for logs, exec and proxy."""
    api.create_or_exists("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "kubeadm:cluster-admins"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "kubeadm:cluster-admins"}],
    })


def ensure_dns_service(api: KubeApi) -> None:
    """The kube-dns Service without a selector, and an EndpointSlice that names CoreDNS on the gateway."""
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]
    labels = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": DNS_SERVICE, "namespace": "kube-system", "labels": labels},
               "spec": {"clusterIP": DNS_SERVICE_IP, "ports": [p | {"targetPort": 53} for p in ports]}}
    try:
        existing = api.get(f"/api/v1/namespaces/kube-system/services/{DNS_SERVICE}")
        if existing["spec"].get("clusterIP") != DNS_SERVICE_IP:
            raise LabError(f"kube-system/{DNS_SERVICE} has clusterIP {existing['spec'].get('clusterIP')}, but the "
                           f"kubelets give pods {DNS_SERVICE_IP}: delete the Service and run `lab.py up` again")
    except ApiError as exc:
        if exc.status != 404:
            raise
        api.create("/api/v1/namespaces/kube-system/services", service)
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": f"{DNS_SERVICE}-lab", "namespace": "kube-system",
                           "labels": {"kubernetes.io/service-name": DNS_SERVICE,
                                      "endpointslice.kubernetes.io/managed-by": MANAGED_BY}},
              "addressType": "IPv4",
              "endpoints": [{"addresses": [podnet.GATEWAY], "conditions": {"ready": True}}],
              "ports": ports}
    path = "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices"
    if not api.create_or_exists(path, slice_):
        api.request("PUT", f"{path}/{DNS_SERVICE}-lab",
                    slice_ | {"metadata": slice_["metadata"] | {
                        "resourceVersion": api.get(f"{path}/{DNS_SERVICE}-lab")["metadata"]["resourceVersion"]}})


def wait_http_ok(what: str, url: str, timeout: float, alive, log: Path) -> None:
    """Wait for ``url`` to answer 200 (CoreDNS's /ready, kube-proxy's /healthz once its rules are in)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if not alive():
            break
        time.sleep(0.3)
    raise LabError(f"{what} did not answer 200 on {url} within {timeout:.0f}s; see {log}:\n{tail(log, 2000)}")
