"""Real nodes: kubelets that run containers, next to kwok's simulated nodes.

``LAB_REAL_NODES=N`` (default 0) gives the lab N nodes ``lab-node-1..N``, each a kubelet (built
from the pinned k8s.io/kubernetes) over its own containerd (Debian's, with runc and the CNI
plugins), all state under ``.lab/nodes/<node>/`` laid out like a node's ``/``: containerd's root and
state (network namespaces included), the kubelet's root, certificates and pod logs
(``var/log/pods``), the CNI config. Each kubelet gets the cgroup parent ``/<node>`` of every
hierarchy. One kube-proxy (iptables mode) serves them all, since they share this machine's
network namespace, and CoreDNS answers on the bridge's gateway as the ``kube-dns`` Service.

Nothing is pulled: containerd's registry configuration sends every registry to 127.0.0.1:1
(``certs.d/_default``), so an image the lab did not import fails at once as ErrImagePull, without a
name lookup. The lab imports its own images (``images.py``) into each node's containerd.

The nodes are tainted ``lab.homelab.io/real-node:NoSchedule`` so that only pods that ask for a real
node (toleration plus ``nodeSelector: {lab.homelab.io/real-node: "true"}``) land there; everything else
keeps running on kwok's nodes, which kwok keeps simulating (it manages only nodes annotated
``kwok.x-k8s.io/node: fake``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import images, node_volumes, podnet
from .kubeapi import ApiError, KubeApi
from .paths import Binaries, LabError, LabPaths
from .pki import CertSpec, make_cert, write_kubeconfig
from .processes import PidFiles, proc_cmdline, start, stop, tail

PREFIX = "lab-node-"
MAX_NODES = 15
LABEL = "lab.homelab.io/real-node"
TAINT = {"key": LABEL, "value": "true", "effect": "NoSchedule"}
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def requested(state: dict, environ=os.environ) -> int:
    """``LAB_REAL_NODES``, or as many as the lab had (so a plain `up` keeps them), default 0."""
    raw = environ.get("LAB_REAL_NODES") or str(state.get("real_nodes") or 0)
    try:
        count = int(raw)
    except ValueError as exc:
        raise LabError(f"LAB_REAL_NODES={raw!r} is not a number (0 to {MAX_NODES})") from exc
    if not 0 <= count <= MAX_NODES:
        raise LabError(f"LAB_REAL_NODES={count}: the lab runs 0 to {MAX_NODES} real nodes "
                       f"(one /24 of {podnet.NETWORK} each)")
    return count


@dataclass(frozen=True)
class RealNode:
    index: int
    lab: LabPaths

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.index}"

    @property
    def ip(self) -> str:
        return podnet.node_ip(self.index)

    @property
    def root(self) -> Path:
        return self.lab.root / "nodes" / self.name

    def on_node(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def containerd_socket(self) -> Path:
        return self.on_node("/run/containerd/containerd.sock")

    @property
    def kubelet_dir(self) -> Path:
        return self.on_node("/var/lib/kubelet")

    @property
    def pod_logs(self) -> Path:
        return self.on_node("/var/log/pods")

    @property
    def cgroup_parent(self) -> str:
        return f"/{self.name}"

    def processes(self) -> list[str]:
        return [f"containerd-{self.name}", f"kubelet-{self.name}"]


def nodes_of(paths: LabPaths, count: int) -> list[RealNode]:
    return [RealNode(i, paths) for i in range(1, count + 1)]


# --- files ----------------------------------------------------------------------------------

def containerd_config(node: RealNode) -> str:
    state, root = node.on_node("/run/containerd"), node.on_node("/var/lib/containerd")
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    runc = f'{cri}.containerd.runtimes.runc'
    return "\n".join([
        "version = 2",
        f'root = "{root}"',
        f'state = "{state}"',
        # snapshotters this machine has no use for; they only log errors at start
        'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", '
        '"io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", '
        '"io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
        "[grpc]",
        f'  address = "{node.containerd_socket}"',
        "[ttrpc]",
        '  address = ""',
        "[debug]",
        '  address = ""',
        "[metrics]",
        '  address = ""',
        f"[{cri}]",
        f'  sandbox_image = "{images.PAUSE_IMAGE}"',
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        # this machine does not let a process lower its oom_score_adj (the kubelet asks -998 for the
        # pause container): keep every container at or above containerd's own, as kind does
        "  restrict_oom_score_adj = true",
        # the pods' network namespaces under the node's state, so `down` finds and unmounts them
        "  netns_mounts_under_state_dir = true",
        f"  [{cri}.cni]",
        '    bin_dir = "/usr/lib/cni"',
        f'    conf_dir = "{node.on_node("/etc/cni/net.d")}"',
        f"  [{cri}.containerd]",
        '    snapshotter = "overlayfs"',
        '    default_runtime_name = "runc"',
        f"  [{runc}]",
        '    runtime_type = "io.containerd.runc.v2"',
        f"  [{runc}.options]",
        "    SystemdCgroup = false",
        f'    Root = "{node.on_node("/run/runc")}"',
        f"  [{cri}.registry]",
        f'    config_path = "{node.on_node("/etc/containerd/certs.d")}"',
        "",
    ])


# every registry, whatever its name: a closed loopback port, so a missing image fails at once
# (ErrImagePull) and no name is looked up
REGISTRY_HOSTS = 'server = "http://127.0.0.1:1"\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "resolve"]\n'


def kubelet_config(node: RealNode, pki: Path) -> dict:
    certs = node.on_node("/var/lib/kubelet/pki")
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": node.ip,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": node.ip,
        "healthzPort": 10248,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(pki / "ca.crt")}},
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(certs / "kubelet.crt"),
        "tlsPrivateKeyFile": str(certs / "kubelet.key"),
        "containerRuntimeEndpoint": f"unix://{node.containerd_socket}",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": node.cgroup_parent,
        "cgroupsPerQOS": True,
        # this machine mounts cgroup v1 (the unified hierarchy only beside it)
        "failCgroupV1": False,
        "clusterDomain": CLUSTER_DOMAIN,
        "clusterDNS": [DNS_SERVICE_IP],
        # an empty resolv.conf: pods get the cluster DNS only, never this machine's resolver
        "resolvConf": str(node.on_node("/etc/resolv.conf")),
        "podLogsDir": str(node.pod_logs),
        "registerWithTaints": [TAINT],
        # the lab's images are imported, not pulled: never collect them, and never evict for a full disk
        # of the machine the lab shares with everything else
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "failSwapOn": False,
        # the kubelet measures volume usage (kubelet_volume_stats_*) this often; the default minute
        # would make a test of a full volume wait that long
        "volumeStatsAggPeriod": "10s",
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "volumePluginDir": str(node.on_node("/usr/libexec/kubernetes/kubelet-plugins/volume/exec")),
    }


def write_if_changed(path: Path, text: str) -> None:
    """Rewrite only a changed file: kube-proxy exits when its configuration file is written at all
    ("content of the proxy server's configuration file was updated"), and every `up` writes them."""
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    path.write_text(text)


def write_node_files(node: RealNode, pki: Path, server: str) -> None:
    for d in ("/etc/cni/net.d", "/etc/containerd/certs.d/_default", "/etc/kubernetes", "/var/lib/kubelet/pki",
              "/var/log/pods", "/run/containerd", "/var/lib/containerd", "/var/lib/cni/networks", "/run/runc"):
        node.on_node(d).mkdir(parents=True, exist_ok=True)
    write_if_changed(node.on_node("/etc/containerd/config.toml"), containerd_config(node))
    write_if_changed(node.on_node("/etc/containerd/certs.d/_default/hosts.toml"), REGISTRY_HOSTS)
    write_if_changed(node.on_node("/etc/resolv.conf"), "")
    write_if_changed(node.on_node("/etc/cni/net.d/10-lab-pods.conflist"),
                     json.dumps(podnet.cni_config(node.index, node.on_node("/var/lib/cni/networks")), indent=1))
    certs = node.on_node("/var/lib/kubelet/pki")
    rel = os.path.relpath(certs, pki)
    # the kubelet's identity (Node authorizer, NodeRestriction) and its serving certificate, by the lab CA
    make_cert(pki, CertSpec(f"{rel}/kubelet-client", "ca", f"system:node:{node.name}", ("system:nodes",),
                            client=True))
    make_cert(pki, CertSpec(f"{rel}/kubelet", "ca", node.name, server=True, dns=(node.name,), ips=(node.ip,)))
    write_kubeconfig(node.on_node("/etc/kubernetes/kubelet.conf"), server, pki,
                     client=f"{rel}/kubelet-client", user=f"system:node:{node.name}")
    write_if_changed(node.on_node("/var/lib/kubelet/config.yaml"), yaml.safe_dump(kubelet_config(node, pki)))


def ensure_cgroups(node: RealNode) -> None:
    """The kubelet insists that its cgroup root exists in every hierarchy; a new cpuset cgroup takes
    its CPUs and memory nodes from the root (it accepts no task before)."""
    for hierarchy in CGROUP_ROOT.iterdir():
        if not (hierarchy / "cgroup.procs").exists():
            continue
        target = hierarchy / node.name
        target.mkdir(exist_ok=True)
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if (target / knob).exists() and not (target / knob).read_text().strip():
                (target / knob).write_text((hierarchy / knob).read_text())


def cgroup_dirs(node: RealNode) -> list[Path]:
    return [h / node.name for h in CGROUP_ROOT.iterdir() if (h / node.name).is_dir()]


def container_pids(node: RealNode) -> set[int]:
    """The processes in the node's cgroups: its containers (pause included)."""
    pids = set()
    for top in cgroup_dirs(node):
        # os.walk, not rglob: the kubelet may remove a pod's cgroup while we read the tree
        for dirpath, _dirs, _files in os.walk(top):
            with contextlib.suppress(OSError):
                pids.update(int(p) for p in (Path(dirpath) / "cgroup.procs").read_text().split())
    return pids


def kill_cgroup_processes(node: RealNode) -> int:
    """SIGKILL whatever still runs in the node's cgroups; the number of processes."""
    pids = container_pids(node)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def remove_cgroups(node: RealNode) -> list[Path]:
    """rmdir the node's cgroup trees, deepest first; the directories that would not go."""
    left = []
    for top in cgroup_dirs(node):
        for _ in range(20):
            dirs = sorted((d for d in [top, *top.rglob("*")] if d.is_dir()), key=lambda d: len(d.parts), reverse=True)
            for d in dirs:
                with contextlib.suppress(OSError):
                    d.rmdir()
            if not top.exists():
                break
            time.sleep(0.1)
        if top.exists():
            left.append(top)
    return left


# --- processes ------------------------------------------------------------------------------

def containerd_argv(node: RealNode) -> list[str]:
    return ["containerd", f"--config={node.on_node('/etc/containerd/config.toml')}"]


def kubelet_argv(bins: Binaries, node: RealNode) -> list[str]:
    return [
        str(bins.kubernetes("kubelet")),
        f"--config={node.kubelet_dir / 'config.yaml'}",
        f"--kubeconfig={node.on_node('/etc/kubernetes/kubelet.conf')}",
        f"--root-dir={node.kubelet_dir}",
        f"--cert-dir={node.kubelet_dir / 'pki'}",
        f"--hostname-override={node.name}",
        f"--node-ip={node.ip}",
        f"--node-labels={LABEL}=true,type=real",
        "--v=1",
    ]


def shim_pids(node: RealNode) -> list[int]:
    """containerd-shim-runc-v2 processes of this node's containerd (they run in sessions of their own)."""
    marker = f"-address {node.containerd_socket}"
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            cmd = proc_cmdline(int(d.name))
            if cmd.startswith("/usr/bin/containerd-shim") and marker in cmd:
                pids.append(int(d.name))
    return pids


def wait_socket(node: RealNode, timeout: float, alive) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = node.containerd_socket.exists() and images.ctr(
            node.containerd_socket, "version", check=False).returncode == 0
        if answered:
            return
        if not alive():
            break
        time.sleep(0.2)
    log = node.lab.logs / f"containerd-{node.name}.log"
    raise LabError(f"containerd of {node.name} did not answer on {node.containerd_socket} within {timeout:.0f}s; "
                   f"see {log}:\n{tail(log, 2000)}")


def wait_node_ready(api: KubeApi, node: RealNode, timeout: float) -> float:
    t0 = time.monotonic()
    last = "not registered"
    while time.monotonic() - t0 < timeout:
        try:
            obj = api.get(f"/api/v1/nodes/{node.name}")
            conds = {c["type"]: c for c in obj.get("status", {}).get("conditions") or []}
            ready = conds.get("Ready", {})
            if ready.get("status") == "True":
                return time.monotonic() - t0
            last = f"Ready={ready.get('status')} ({ready.get('reason')}: {ready.get('message')})"
        except ApiError as exc:
            if exc.status != 404:
                raise
        time.sleep(0.5)
    log = node.lab.logs / f"kubelet-{node.name}.log"
    errors = [line for line in tail(log, 6000).splitlines() if line.startswith("E") or "rror" in line]
    raise LabError(f"real node {node.name} did not become Ready within {timeout:.0f}s: {last}; see {log}:\n"
                   + "\n".join(errors[-10:]))


def start_node(pids: PidFiles, bins: Binaries, node: RealNode, pki: Path, server: str) -> list[str]:
    """Start the node's containerd and kubelet if they are not running; the processes started."""
    started = []
    write_node_files(node, pki, server)
    ensure_cgroups(node)
    logs = node.lab.logs
    name = f"containerd-{node.name}"
    if pids.running(name) is None:
        pids.clear_stale(name)
        rec = start(pids, name, containerd_argv(node), logs / f"{name}.log")
        wait_socket(node, 30, rec.alive)
        started.append(name)
    images.import_images(node.containerd_socket, images.lab_images())
    name = f"kubelet-{node.name}"
    if pids.running(name) is None:
        # the node's disks come back before the kubelet looks for its pods' volumes
        node_volumes.mount_all(node.root)
        pids.clear_stale(name)
        start(pids, name, kubelet_argv(bins, node), logs / f"{name}.log")
        started.append(name)
    return started


def stop_node(pids: PidFiles, node: RealNode) -> list[str]:
    """Stop the kubelet, the node's containers and shims, containerd; unmount and remove its cgroups."""
    stopped = []
    if stop(pids, f"kubelet-{node.name}"):
        stopped.append(f"kubelet-{node.name}")
    if node.containerd_socket.exists() and pids.running(f"containerd-{node.name}"):
        for task in images.ctr(node.containerd_socket, "tasks", "list", "--quiet", check=False).stdout.split():
            images.ctr(node.containerd_socket, "tasks", "kill", "--signal", "SIGKILL", task, check=False)
    if kill_cgroup_processes(node):
        stopped.append(f"containers of {node.name}")
    for pid in shim_pids(node):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if stop(pids, f"containerd-{node.name}"):
        stopped.append(f"containerd-{node.name}")
    left = podnet.unmount_all(node.root)
    if left:
        raise LabError(f"could not unmount {', '.join(left[:5])} of {node.name}: "
                       f"see `grep {node.root} /proc/self/mountinfo`")
    left_cg = remove_cgroups(node)
    if left_cg:
        raise LabError(f"could not remove the cgroups {', '.join(map(str, left_cg))} of {node.name}: "
                       f"processes are still in them (their cgroup.procs files name them)")
    return stopped


def delete_node_objects(api: KubeApi, keep: int) -> int:
    names = [n for n in api.names("/api/v1/nodes")
             if n.startswith(PREFIX) and n[len(PREFIX):].isdigit() and int(n[len(PREFIX):]) > keep]
    for n in names:
        api.delete(f"/api/v1/nodes/{n}")
    return len(names)


def container_log_links(lab_root: Path) -> list[Path]:
    """The kubelet links every container's log into /var/log/containers (a path it does not let you move)."""
    links = Path("/var/log/containers")
    if not links.is_dir():
        return []
    return [p for p in links.iterdir() if p.is_symlink() and os.readlink(p).startswith(str(lab_root) + "/")]
