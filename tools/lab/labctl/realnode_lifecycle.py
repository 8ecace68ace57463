"""Bringing the real nodes up and down with the lab (``lab.py up`` / ``down``).

``reconcile`` makes the lab have exactly ``LAB_REAL_NODES`` real nodes: it stops and deletes the
surplus ones, and when none is left removes what they put on this machine (bridge, iptables chains,
mounts, cgroups, links in /var/log/containers, ip_forward, the propagation of /). ``down`` does the
same for all of them, whatever the state file says, by looking at what exists (node directories, the
bridge, the chains).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import apiserver_bridge, images, node_volumes, nodeservices, podnet, realnodes, root_propagation
from .kubeapi import ApiError, KubeApi
from .paths import Binaries, LabError, LabPaths
from .processes import PidFiles, proc_rss_kib, start, stop

NODE_DIR = re.compile(rf"^{realnodes.PREFIX}(\d+)$")


@dataclass
class RealNodes:
    paths: LabPaths
    bins: Binaries
    pids: PidFiles
    read_state: Callable[[], dict]
    write_state: Callable[..., None]

    def existing(self) -> list[realnodes.RealNode]:
        """The real nodes that have a directory (started once, maybe still running)."""
        root = self.paths.root / "nodes"
        found = sorted(int(m.group(1)) for d in (root.iterdir() if root.is_dir() else [])
                       if (m := NODE_DIR.match(d.name)))
        return [realnodes.RealNode(i, self.paths) for i in found]

    def process_names(self) -> list[str]:
        names = [n for node in self.existing() for n in node.processes()]
        return names + [n for n in nodeservices.PROCESSES if self.pids.read(n) is not None]

    def rss_kib(self, name: str) -> int:
        """A process's RSS; containerd's includes its shims, the kubelet's its node's containers."""
        rec = self.pids.read(name)
        total = proc_rss_kib(rec.pid) if rec else 0
        for node in self.existing():
            if name == f"containerd-{node.name}":
                total += sum(proc_rss_kib(p) for p in realnodes.shim_pids(node))
            if name == f"kubelet-{node.name}":
                total += sum(proc_rss_kib(p) for p in realnodes.container_pids(node))
        return total

    def reconcile(self, api: KubeApi, count: int, ports: dict) -> int:
        for node in self.existing():
            if node.index > count:
                realnodes.stop_node(self.pids, node)
        realnodes.delete_node_objects(api, keep=count)
        if count == 0:
            if podnet.bridge_owner() == str(self.paths.root) or any(
                    self.pids.running(n) for n in nodeservices.PROCESSES):
                self._host_teardown()
            return 0
        for tool in ("containerd", "runc", "ctr"):
            if shutil.which(tool) is None:
                raise LabError(f"`{tool}` is missing: LAB_REAL_NODES={count} needs containerd, runc and the CNI "
                               f"plugins from Debian (`make deps` or bash tools/install-debian-deps.sh)")
        missing = [str(p) for p in (self.bins.kubernetes("kubelet"), self.bins.kubernetes("kube-proxy"),
                                    self.bins.coredns) if not p.exists()]
        if missing:
            raise LabError(f"missing {', '.join(missing)} for LAB_REAL_NODES={count}: run `make lab-build`")
        recorded = podnet.ensure(self.paths.root, count, self.read_state())
        recorded.update(root_propagation.ensure(self.read_state()))
        if recorded:
            self.write_state(**recorded)
        server = f"https://127.0.0.1:{ports['kube-apiserver']}"
        nodes = realnodes.nodes_of(self.paths, count)
        for node in nodes:
            realnodes.start_node(self.pids, self.bins, node, self.paths.pki, server)
        nodeservices.write_files(self.paths, nodes[0], server, ports["coredns-ready"])
        self._ensure_host_process(nodeservices.KUBE_PROXY, nodeservices.kube_proxy_argv(self.bins, self.paths),
                                  f"http://{nodes[0].ip}:{nodeservices.KUBE_PROXY_HEALTHZ_PORT}/healthz")
        nodeservices.ensure_kubelet_api_access(api)
        nodeservices.ensure_dns_service(api)
        self._ensure_host_process(nodeservices.COREDNS, nodeservices.coredns_argv(self.bins, self.paths),
                                  f"http://127.0.0.1:{ports['coredns-ready']}/ready")
        self._ensure_apiserver_bridge(apiserver_bridge.forwarded_ports(ports))
        t0 = time.monotonic()
        for node in nodes:
            realnodes.wait_node_ready(api, node, max(5.0, 120 - (time.monotonic() - t0)))
        return count

    def _ensure_host_process(self, name: str, argv: list, ready_url: str) -> None:
        """Start ``name`` unless it runs, and wait until it says it is ready (Services programmed,
        DNS answering), so that pods started after `up` find them working."""
        rec = self.pids.running(name)
        if rec is None:
            self.pids.clear_stale(name)
            rec = start(self.pids, name, argv, self.paths.logs / f"{name}.log")
        nodeservices.wait_http_ok(name, ready_url, 60, rec.alive, self.paths.logs / f"{name}.log")

    def _ensure_apiserver_bridge(self, ports: list) -> None:
        name = nodeservices.APISERVER_BRIDGE
        rec = self.pids.running(name)
        if rec is None:
            self.pids.clear_stale(name)
            rec = start(self.pids, name, nodeservices.apiserver_bridge_argv(), self.paths.logs / f"{name}.log")
        for port in ports:
            apiserver_bridge.wait_listening(port, 30, rec.alive)

    # --- faults, on purpose, for tests -------------------------------------------------------
    def node(self, name: str) -> realnodes.RealNode:
        for node in self.existing():
            if node.name == name:
                return node
        raise LabError(f"no real node {name!r} in {self.paths.root} "
                       f"(real nodes: {', '.join(n.name for n in self.existing()) or 'none'})")

    def stop_kubelet(self, name: str) -> bool:
        """The node is lost: its kubelet stops (its containers keep running, as on a real node);
        the node goes NotReady after the controller manager's grace period. `up` starts it again."""
        return stop(self.pids, f"kubelet-{self.node(name).name}")

    def remove_image(self, name: str, reference: str) -> None:
        """The next pod that needs ``reference`` on this node has to pull it and fails (ErrImagePull);
        `up` imports the lab's images again."""
        images.remove_image(self.node(name).containerd_socket, reference)

    def volume_of_claim(self, api: KubeApi, namespace: str, claim: str) -> Path:
        """The mount point of a claim's volume on a real node (see labctl/node_volumes.py)."""
        try:
            pvc = api.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}")
        except ApiError as exc:
            raise LabError(f"no claim {namespace}/{claim}: {exc}") from exc
        volume = pvc["spec"].get("volumeName")
        if not volume:
            raise LabError(f"the claim {namespace}/{claim} is not bound yet (phase "
                           f"{pvc.get('status', {}).get('phase')}): start a pod that uses it first")
        path = Path(api.get(f"/api/v1/persistentvolumes/{volume}")["spec"].get("local", {}).get("path", "/"))
        if node_volumes.owning_node_root(path, self.paths.root / "nodes") is None:
            raise LabError(f"the volume {volume} of {namespace}/{claim} is not on a real node's disk: only "
                           f"local-path claims scheduled to a real node have a size of their own to fill")
        return path

    def fill_volume(self, api: KubeApi, namespace: str, claim: str, leave_bytes: int = 0) -> dict:
        """The claim's volume is full (but ``leave_bytes``): writes in it fail with ENOSPC and the
        kubelet reports it so. `release_volume` gives the space back."""
        path = self.volume_of_claim(api, namespace, claim)
        allocated = node_volumes.fill(path, leave_bytes)
        return {"path": str(path), "allocated_bytes": allocated, **node_volumes.usage(path)}

    def release_volume(self, api: KubeApi, namespace: str, claim: str) -> dict:
        path = self.volume_of_claim(api, namespace, claim)
        released = node_volumes.release(path)
        return {"path": str(path), "released_bytes": released, **node_volumes.usage(path)}

    def down(self) -> list[str]:
        stopped = []
        for node in self.existing():
            stopped += realnodes.stop_node(self.pids, node)
        for name in reversed(nodeservices.PROCESSES):
            if stop(self.pids, name):
                stopped.append(name)
        if not self.owns_host_network():
            return stopped
        removed = self._host_teardown()
        return stopped + removed

    def owns_host_network(self) -> bool:
        """Whether the bridge and the lab chains on this machine are this lab's to remove. Another lab's
        (its directory is on the bridge) stay: one lab per machine has real nodes, and a lab without
        them must not tear down that one's network. Unowned leftovers are cleaned by whoever goes down."""
        return podnet.bridge_owner() in ("", str(self.paths.root))

    def _host_teardown(self) -> list[str]:
        for name in reversed(nodeservices.PROCESSES):
            stop(self.pids, name)
        if podnet.lab_chains():
            nodeservices.kube_proxy_cleanup(self.bins)
        removed = podnet.teardown(self.read_state()) + root_propagation.restore(self.read_state())
        for link in realnodes.container_log_links(self.paths.root):
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
        podnet.remove_cni_results(self.paths.root)
        # put back: the next `up` records the value it finds (the node count stays, as LAB_NODES does)
        state = self.read_state()
        state.pop("ip_forward_before", None)
        state.pop(root_propagation.STATE_KEY, None)
        self.paths.state_file.write_text(json.dumps(state, indent=1))
        return removed
