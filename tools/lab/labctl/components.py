"""Command lines of the processes the lab runs directly (the apiserver runs as a static pod)."""

from __future__ import annotations

import sys

from .paths import CONTROL_PLANE_NODE, LAB_TOOLS, Binaries, LabPaths


def etcd(bins: Binaries, paths: LabPaths, ports: dict) -> list:
    pki = paths.pki / "etcd"
    client, peer = f"https://127.0.0.1:{ports['etcd']}", f"https://127.0.0.1:{ports['etcd-peer']}"
    return [
        str(bins.etcd),
        f"--name={CONTROL_PLANE_NODE}",
        f"--data-dir={paths.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={CONTROL_PLANE_NODE}={peer}",
        # plain HTTP /metrics and /health, as kubeadm's etcd on 2381; real nodes' pods reach it through
        # the apiserver bridge (apiserver_bridge.py), which forwards it from the advertise address
        f"--listen-metrics-urls=http://127.0.0.1:{ports['etcd-metrics']}",
        f"--cert-file={pki / 'server.crt'}",
        f"--key-file={pki / 'server.key'}",
        f"--trusted-ca-file={pki / 'ca.crt'}",
        "--client-cert-auth=true",
        f"--peer-cert-file={pki / 'peer.crt'}",
        f"--peer-key-file={pki / 'peer.key'}",
        f"--peer-trusted-ca-file={pki / 'ca.crt'}",
        "--peer-client-cert-auth=true",
        "--snapshot-count=10000",
        # a lab: durability across power loss is not worth the fsync latency on a small disk
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def controller_manager(bins: Binaries, paths: LabPaths, ports: dict) -> list:
    pki, conf = paths.pki, paths.component_kubeconfig("controller-manager")
    return [
        str(bins.kubernetes("kube-controller-manager")),
        f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}",
        f"--kubeconfig={conf}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports['kube-controller-manager']}",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--cluster-name=lab",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        "--controllers=*,bootstrapsigner,tokencleaner",
        f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        "--use-service-account-credentials=true",
        # one instance: no lease to wait for after a restart
        "--leader-elect=false",
        # enough client throughput for a 1000-node lab
        "--kube-api-qps=100",
        "--kube-api-burst=200",
    ]


def scheduler(bins: Binaries, paths: LabPaths, ports: dict) -> list:
    conf = paths.component_kubeconfig("scheduler")
    return [
        str(bins.kubernetes("kube-scheduler")),
        f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}",
        f"--kubeconfig={conf}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports['kube-scheduler']}",
        "--leader-elect=false",
    ]


def kwok(bins: Binaries, paths: LabPaths, ports: dict) -> list:
    # No stage configuration: kwok then plays its default stages, node-initialize,
    # node-heartbeat-with-lease (leases of 40 s), pod-ready, pod-complete and pod-delete.
    return [
        str(bins.kwok),
        f"--kubeconfig={paths.component_kubeconfig('kwok')}",
        f"--config={paths.run / 'kwok.yaml'}",
        # only the simulated nodes (nodes.py annotates them): the real nodes' kubelets report for themselves
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--cidr=10.244.0.0/16",
        "--node-ip=10.250.0.1",
        "--node-lease-duration-seconds=40",
        f"--server-address=127.0.0.1:{ports['kwok']}",
    ]


def python_entry(command: str) -> list:
    """The lab's own background processes run as ``lab.py <command>`` with this interpreter."""
    return [sys.executable, str(LAB_TOOLS / "lab.py"), command]
