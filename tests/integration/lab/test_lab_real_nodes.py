"""The lab's real nodes (tools/lab/labctl/realnodes.py): a kubelet over containerd that runs the
lab's own images, reached through the apiserver, with Services and cluster DNS, on this machine only.

The tests run in file order; the last one takes the real nodes down and checks that nothing of
them is left on the host.
"""

import errno
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

LAB_PY = Path(__file__).resolve().parents[3] / "tools" / "lab" / "lab.py"
sys.path.insert(0, str(LAB_PY.parent))
from ansible_collections.homelab.observability.plugins.module_utils.kube.client import api_client  # noqa: E402
from ansible_collections.homelab.observability.plugins.module_utils.kube.diagnose import Diagnoser  # noqa: E402
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi, Ref  # noqa: E402
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter  # noqa: E402
from labctl import images, node_volumes, nodeservices, podnet, realnodes, root_propagation  # noqa: E402
from labctl.processes import proc_cmdline, proc_start_ticks  # noqa: E402

ON_REAL_NODE = {
    "nodeSelector": {realnodes.LABEL: "true"},
    "tolerations": [{"key": realnodes.LABEL, "operator": "Exists", "effect": "NoSchedule"}],
}
MISSING_IMAGE = "quay.io/lab-missing/nothing:v0.0.0"


def kubectl(lab, *args, check=True, timeout=60):
    result = subprocess.run([str(lab.kubectl), *args], env=lab.env(), capture_output=True, text=True,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result


def apply(lab, *docs):
    proc = subprocess.run([str(lab.kubectl), "apply", "-f", "-"], input="\n---\n".join(json.dumps(d) for d in docs),
                          env=lab.env(), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def web(ns, image=images.LABHTTP_IMAGE, name="web"):
    pod = {"containers": [{"name": "web", "image": image, "imagePullPolicy": "IfNotPresent",
                           "ports": [{"name": "http", "containerPort": 8080}],
                           "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod | ON_REAL_NODE}}}


@pytest.fixture(scope="module")
def ns(lab, real_node):
    name = f"real-{uuid.uuid4().hex[:6]}"
    kubectl(lab, "create", "namespace", name)
    yield name
    kubectl(lab, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def served(lab, ns):
    """A Deployment of the lab's HTTP image and its Service, Ready on the real node."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}}
    apply(lab, web(ns), service)
    kubectl(lab, "-n", ns, "rollout", "status", "deployment/web", "--timeout=90s", timeout=100)
    return ns


def test_the_real_node_is_ready_and_kwok_leaves_it_alone(lab, real_node):
    node = json.loads(kubectl(lab, "get", "node", real_node.name, "-o", "json").stdout)
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == lab.control.bins.kubernetes_version
    assert info["containerRuntimeVersion"].startswith("containerd://")
    assert {"type": "InternalIP", "address": real_node.ip} in node["status"]["addresses"]
    assert "kwok.x-k8s.io/node" not in node["metadata"].get("annotations", {})
    assert realnodes.TAINT in [{k: t.get(k) for k in ("key", "value", "effect")} for t in node["spec"]["taints"]]
    # the simulated nodes are still kwok's
    simulated = json.loads(kubectl(lab, "get", "nodes", "-l", "type=kwok", "-o", "json").stdout)["items"]
    assert simulated and all(any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
                             for n in simulated)


def test_the_kubelet_serves_a_certificate_of_the_lab_ca(lab, real_node):
    context = ssl.create_default_context(cafile=str(lab.on_host("/etc/kubernetes/pki/ca.crt")))
    with socket.create_connection((real_node.ip, 10250), timeout=5) as sock, \
            context.wrap_socket(sock, server_hostname=real_node.ip) as tls:  # verifies chain and IP SAN
        assert tls.getpeercert()["subject"] == ((("commonName", real_node.name),),)


def test_a_locally_built_image_serves_through_the_service_proxy(lab, served):
    out = kubectl(lab, "get", "--raw", f"/api/v1/namespaces/{served}/services/web:http/proxy/through-proxy").stdout
    assert out.startswith("labhttp on web-") and out.strip().endswith("/through-proxy")


def test_kubectl_logs_and_the_node_log_file_show_the_request(lab, served, real_node):
    kubectl(lab, "get", "--raw", f"/api/v1/namespaces/{served}/services/web:http/proxy/logged")
    deadline = time.monotonic() + 10
    while "request GET /logged" not in (logs := kubectl(lab, "-n", served, "logs", "deployment/web").stdout):
        assert time.monotonic() < deadline, logs
        time.sleep(0.5)
    files = list(real_node.pod_logs.glob(f"{served}_web-*/web/*.log"))
    assert files and "request GET /logged" in files[0].read_text()


def _run_client(lab, namespace, name, args):
    """A labhttp client pod on the real node; its phase and logs once it ended."""
    client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
              "spec": {"restartPolicy": "Never", "containers": [
                  {"name": "client", "image": images.LABHTTP_IMAGE, "imagePullPolicy": "IfNotPresent",
                   "command": ["/usr/local/bin/labhttp", *args, "-tries", "20"]}]} | ON_REAL_NODE}
    apply(lab, client)
    deadline = time.monotonic() + 60
    while (phase := kubectl(lab, "-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.phase}").stdout) \
            not in ("Succeeded", "Failed"):
        assert time.monotonic() < deadline, phase
        time.sleep(0.5)
    return phase, kubectl(lab, "-n", namespace, "logs", name).stdout


def test_another_pod_reaches_the_service_by_its_cluster_dns_name(lab, served):
    phase, logs = _run_client(lab, served, "client", ["-get", f"http://web.{served}.svc.cluster.local:8080/by-dns"])
    assert phase == "Succeeded", logs
    assert "200 OK labhttp on web-" in logs and "/by-dns" in logs


def test_a_pod_reaches_the_apiserver_in_cluster_with_its_service_account(lab, served):
    # kubernetes.default.svc -> 10.96.0.1:443 -> the apiserver's advertise address, where the lab's
    # apiserver-bridge forwards to its loopback port; the cluster CA verifies the serving certificate
    phase, logs = _run_client(lab, served, "api-client",
                              ["-in-cluster", "-get", "https://kubernetes.default.svc/version"])
    assert phase == "Succeeded", logs
    assert "200 OK" in logs and '"gitVersion": "v1.34.4"' in logs


def test_an_unknown_image_fails_to_pull_and_the_engine_names_it(lab, ns):
    apply(lab, web(ns, image=MISSING_IMAGE, name="missing"))
    api = KubeApi(api_client({"kubeconfig": str(lab.kubeconfig)}))
    ref = Ref("apps/v1", "Deployment", ns, "missing")
    deadline = time.monotonic() + 60
    while True:
        lines = Diagnoser(api).diagnose(Waiter(api).observe([ref]))
        if any("cannot pull its image" in line for line in lines) or time.monotonic() > deadline:
            break
        time.sleep(1)
    pull = [line for line in lines if "cannot pull its image" in line]
    assert pull and MISSING_IMAGE in pull[0], lines
    # containerd asked the closed loopback port, not the registry's host
    assert "127.0.0.1:1" in pull[0]
    pod = json.loads(kubectl(lab, "-n", ns, "get", "pods", "-l", "app=missing", "-o", "json").stdout)["items"][0]
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] in ("ErrImagePull", "ImagePullBackOff")


def test_pods_have_no_default_route_and_the_bridge_forwards_nowhere_else(lab, served, real_node):
    netns = list(real_node.on_node("/run/containerd/io.containerd.grpc.v1.cri/netns").iterdir())
    assert netns
    for path in netns:
        routes = subprocess.run(["nsenter", f"--net={path}", "ip", "-4", "route"], capture_output=True, text=True,
                                check=True).stdout
        assert "default" not in routes, routes
    forward = subprocess.run(["iptables", "-t", podnet.GUARD_TABLE, "-S", "FORWARD"], capture_output=True, text=True,
                             check=True).stdout
    assert forward.splitlines()[1] == f"-A FORWARD -j {podnet.GUARD_CHAIN}"  # first: nothing accepts before it
    guard = subprocess.run(["iptables", "-t", podnet.GUARD_TABLE, "-S", podnet.GUARD_CHAIN], capture_output=True,
                           text=True, check=True).stdout
    assert f"-A {podnet.GUARD_CHAIN} -i {podnet.BRIDGE} ! -o {podnet.BRIDGE} -j DROP" in guard.splitlines()


def lab_py(lab, *args):
    result = subprocess.run([sys.executable, str(LAB_PY), *args], env=lab.env(), capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_removed_image_fails_to_pull_until_up_imports_it_again(lab, ns, real_node):
    lab_py(lab, "remove-image", real_node.name, images.LABHTTP_IMAGE)
    assert images.LABHTTP_IMAGE not in images.imported(real_node.containerd_socket)
    apply(lab, web(ns, name="after-removal"))
    deadline = time.monotonic() + 60
    reason = None
    while reason not in ("ErrImagePull", "ImagePullBackOff"):
        assert time.monotonic() < deadline, reason
        time.sleep(0.5)
        pods = json.loads(kubectl(lab, "-n", ns, "get", "pods", "-l", "app=after-removal", "-o", "json").stdout)
        statuses = [s for p in pods["items"] for s in p["status"].get("containerStatuses") or []]
        reason = statuses[0]["state"].get("waiting", {}).get("reason") if statuses else None
    lab_py(lab, "up")
    assert images.LABHTTP_IMAGE in images.imported(real_node.containerd_socket)
    kubectl(lab, "-n", ns, "delete", "deployment", "after-removal", "--wait=false")


def test_a_stopped_kubelet_is_started_again_by_up(lab, real_node):
    before = lab.control.pids.running(f"kubelet-{real_node.name}")
    proxy = lab.control.pids.running(nodeservices.KUBE_PROXY)
    assert "stopped" in lab_py(lab, "stop-kubelet", real_node.name)
    assert lab.control.pids.running(f"kubelet-{real_node.name}") is None
    with pytest.raises(OSError):
        socket.create_connection((real_node.ip, 10250), timeout=2).close()
    lab_py(lab, "up")  # waits until the node is Ready again
    after = lab.control.pids.running(f"kubelet-{real_node.name}")
    assert after is not None and after.pid != before.pid
    # `up` rewrote no configuration file it did not change: kube-proxy exits when its file is written
    assert lab.control.pids.running(nodeservices.KUBE_PROXY).pid == proxy.pid


def _volume_metric(lab, node, ns, claim, name="kubelet_volume_stats_available_bytes"):
    """What a PVC alert reads: the kubelet's gauge for the claim, through the apiserver's node proxy."""
    text = kubectl(lab, "get", "--raw", f"/api/v1/nodes/{node}/proxy/metrics").stdout
    wanted = f'namespace="{ns}",persistentvolumeclaim="{claim}"'
    for line in text.splitlines():
        if line.startswith(name + "{") and wanted in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def _wait_metric(lab, node, ns, claim, accept, *, timeout=90):
    deadline = time.monotonic() + timeout
    value = None
    while not (value is not None and accept(value)):
        assert time.monotonic() < deadline, f"kubelet_volume_stats_available_bytes of {ns}/{claim}: {value}"
        time.sleep(2)
        value = _volume_metric(lab, node, ns, claim)
    return value


def test_a_filled_volume_refuses_writes_and_the_kubelet_reports_it(lab, ns, real_node):
    mib = 1024 * 1024
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns},
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                      "resources": {"requests": {"storage": "32Mi"}}}}
    writer = web(ns, name="writer")
    pod = writer["spec"]["template"]["spec"]
    pod["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    pod["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    apply(lab, claim, writer)
    kubectl(lab, "-n", ns, "rollout", "status", "deployment/writer", "--timeout=90s", timeout=100)
    volume = kubectl(lab, "-n", ns, "get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}").stdout
    path = Path(kubectl(lab, "get", "pv", volume, "-o", "jsonpath={.spec.local.path}").stdout)
    assert path.is_relative_to(real_node.root) and os.path.ismount(path)
    assert node_volumes.loop_devices_under(real_node.root)  # what the down test must find gone
    capacity = os.statvfs(path).f_blocks * os.statvfs(path).f_frsize
    assert 24 * mib < capacity <= 32 * mib  # the claim's size, less ext4's metadata
    assert _wait_metric(lab, real_node.name, ns, "data", lambda v: v > 20 * mib)

    out = lab_py(lab, "fill-volume", f"{ns}/data")
    assert "allocated" in out and f"{ns}/data" in out
    with pytest.raises(OSError) as full:
        (path / "one-more-file").write_bytes(b"x" * mib)
    assert full.value.errno == errno.ENOSPC
    assert _wait_metric(lab, real_node.name, ns, "data", lambda v: v < mib) < mib

    assert "released" in lab_py(lab, "release-volume", f"{ns}/data")
    (path / "one-more-file").unlink(missing_ok=True)
    assert _wait_metric(lab, real_node.name, ns, "data", lambda v: v > 20 * mib)


def test_a_volume_the_lab_cannot_fill_is_named_with_the_reason(lab, ns):
    result = subprocess.run([sys.executable, str(LAB_PY), "fill-volume", f"{ns}/no-such-claim"], env=lab.env(),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert f"no claim {ns}/no-such-claim" in result.stderr


def test_down_leaves_nothing_of_the_real_nodes_behind(lab, served, real_node):
    control = lab.control
    pids = [control.pids.read(n).pid for n in real_node.processes() + nodeservices.PROCESSES]
    pids += realnodes.shim_pids(real_node) + sorted(realnodes.container_pids(real_node))
    assert realnodes.container_pids(real_node) and podnet.mounts_under(real_node.root)
    found = control.read_state().get(root_propagation.STATE_KEY)
    assert root_propagation.propagation(root_propagation.MOUNTINFO.read_text()) != "private"
    control.real_nodes().down()
    time.sleep(0.5)
    left = [p for p in pids if proc_start_ticks(p) is not None]  # None: gone (or a zombie)
    assert left == [], [proc_cmdline(p) for p in left]
    assert not podnet.bridge_exists()
    assert podnet.lab_chains() == {}
    assert podnet.mounts_under(control.paths.root / "nodes") == []
    assert node_volumes.loop_devices_under(control.paths.root) == []
    assert realnodes.cgroup_dirs(real_node) == []
    assert realnodes.container_log_links(control.paths.root) == []
    assert podnet.leftover_cni_results(control.paths.root) == []
    assert "ip_forward_before" not in control.read_state()
    if found == "private":  # the lab made / shared: down puts it back
        assert root_propagation.propagation(root_propagation.MOUNTINFO.read_text()) == "private"
    assert root_propagation.STATE_KEY not in control.read_state()
