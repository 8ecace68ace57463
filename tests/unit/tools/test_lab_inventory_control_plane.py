"""inventory/lab scrapes the lab's control plane for real only when it has real nodes (a Prometheus that
runs), at the addresses where the real nodes' pods reach the host processes and on the lab's own ports."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab_inventory import lab_vars  # noqa: E402

NAMES = ("kube_prometheus_stack_scrape_control_plane", "kube_prometheus_stack_distribution",
         "kube_prometheus_stack_control_plane_endpoints", "kube_prometheus_stack_kube_proxy_endpoints",
         "kube_prometheus_stack_control_plane_ports")
PORTS = {"kube-apiserver": 40000, "kube-controller-manager": 40001, "kube-scheduler": 40002, "etcd-metrics": 40003}


@pytest.mark.parametrize("state", [None, {"real_nodes": 0}])
def test_a_lab_without_real_nodes_scrapes_no_control_plane(tmp_path, state):
    assert lab_vars(tmp_path, state, NAMES, PORTS)["kube_prometheus_stack_scrape_control_plane"] is False


def test_a_lab_with_real_nodes_scrapes_its_host_processes_through_the_bridge(tmp_path):
    got = lab_vars(tmp_path, {"real_nodes": 1}, NAMES, PORTS)
    assert got["kube_prometheus_stack_scrape_control_plane"] is True
    assert got["kube_prometheus_stack_distribution"] == "kubeadm"
    assert got["kube_prometheus_stack_control_plane_endpoints"] == ["10.250.0.1"]  # static_pod.ADVERTISE_ADDRESS
    assert got["kube_prometheus_stack_kube_proxy_endpoints"] == ["10.244.240.11"]  # podnet.node_ip(1)
    ports = {k: int(v) for k, v in got["kube_prometheus_stack_control_plane_ports"].items()}
    assert ports == {"controller_manager": 40001, "scheduler": 40002, "etcd": 40003}


def test_the_lab_addresses_are_the_bridges():
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools" / "lab"))
    from labctl import apiserver_bridge, podnet, static_pod  # noqa: PLC0415

    assert static_pod.ADVERTISE_ADDRESS == "10.250.0.1"
    assert podnet.node_ip(1) == "10.244.240.11"
    assert apiserver_bridge.forwarded_ports(PORTS | {"etcd": 1, "kwok": 2}) == [40000, 40001, 40002, 40003]
