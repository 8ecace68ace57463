"""`lab.py up|down|status|...`: bring the lab's processes up in order, reuse what runs,
and tear down by recorded pid."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import components, network_guard, nodes, realnodes, storage
from .audit import DEFAULT_POLICY
from .kubeapi import ApiError, KubeApi
from .paths import BUILD_SCRIPT, CONTROL_PLANE_NODE, Binaries, LabError, LabPaths
from .pki import ADMIN_USER, ensure_pki, write_kubeconfig
from .processes import (
    PidFiles,
    free_port,
    port_free,
    port_owner,
    proc_cmdline,
    proc_rss_kib,
    proc_start_ticks,
    start,
    stop,
    tail,
    wait_port_open,
)
from .realnode_lifecycle import RealNodes
from .static_pod import apiserver_manifest, dump, pod_hash
from .supervisor import read_status

APISERVER_POD = f"kube-apiserver-{CONTROL_PLANE_NODE}"
# the processes `up` starts, in start order (`down` stops them in reverse)
PROCESSES = ["etcd", "static-pods", "kube-controller-manager", "kube-scheduler", "kwok", "provisioner",
             "prometheus-operator"]
# port name -> environment variable that pins it on the first `up`
PORTS = {
    "etcd": "LAB_ETCD_PORT",
    "etcd-peer": "LAB_ETCD_PEER_PORT",
    "etcd-metrics": "LAB_ETCD_METRICS_PORT",
    "kube-apiserver": "LAB_APISERVER_PORT",
    "kube-controller-manager": "LAB_CONTROLLER_MANAGER_PORT",
    "kube-scheduler": "LAB_SCHEDULER_PORT",
    "kwok": "LAB_KWOK_PORT",
    "prometheus-operator": "LAB_PROMETHEUS_OPERATOR_PORT",
    "coredns-ready": "LAB_COREDNS_READY_PORT",
}
PORT_OF_PROCESS = {"etcd": ["etcd", "etcd-peer", "etcd-metrics"], "static-pods": ["kube-apiserver"],
                   "kube-controller-manager": ["kube-controller-manager"], "kube-scheduler": ["kube-scheduler"],
                   "kwok": ["kwok"], "provisioner": [], "prometheus-operator": ["prometheus-operator"]}
DEFAULT_NODES = 3


def say(msg: str) -> None:
    print(f"lab: {msg}", flush=True)


@dataclass
class Lab:
    paths: LabPaths
    bins: Binaries

    @classmethod
    def discover(cls) -> Lab:
        return cls(LabPaths.discover(), Binaries.discover())

    @property
    def pids(self) -> PidFiles:
        return PidFiles(self.paths.run)

    # --- ports and state ----------------------------------------------------------------
    def load_ports(self) -> dict:
        try:
            return json.loads(self.paths.ports_file.read_text())
        except FileNotFoundError:
            return {}

    def choose_ports(self) -> dict:
        ports = self.load_ports()
        if set(PORTS) <= set(ports):
            return ports
        for name, env in PORTS.items():
            if name in ports:
                continue
            if os.environ.get(env):
                ports[name] = int(os.environ[env])
            else:
                ports[name] = free_port(set(ports.values()))
        self.paths.ports_file.write_text(json.dumps(ports, indent=1))
        return ports

    def check_ports_free(self, ports: dict, process: str) -> None:
        for name in PORT_OF_PROCESS[process]:
            port = ports[name]
            if not port_free(port):
                raise LabError(
                    f"port 127.0.0.1:{port} ({name}) is taken by {port_owner(port)}. Stop that process, or "
                    f"start the lab over with new ports: `lab.py down --purge` (or set {PORTS[name]} and "
                    f"remove {self.paths.ports_file})")

    def read_state(self) -> dict:
        try:
            return json.loads(self.paths.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def write_state(self, **values) -> None:
        state = self.read_state() | values
        self.paths.state_file.write_text(json.dumps(state, indent=1))

    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.load_ports().get('kube-apiserver')}"

    def api(self, timeout: float = 30.0) -> KubeApi:
        return KubeApi.from_kubeconfig(self.paths.kubeconfig, timeout=timeout)

    def apiserver_status(self) -> dict | None:
        return read_status(self.paths, APISERVER_POD)

    @contextlib.contextmanager
    def lock(self):
        """Serialises `up` and `down` of concurrent callers (two pytest sessions, a shell)."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        with open(self.paths.root / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    # --- health ---------------------------------------------------------------------------
    def running(self) -> dict:
        return {name: self.pids.running(name) for name in PROCESSES}

    def healthy(self) -> bool:
        if not all(self.running().values()) or not self.paths.kubeconfig.exists():
            return False
        return self.api(timeout=5).healthy()

    def _manifest_hash(self) -> str | None:
        """The hash the supervisor gives the apiserver manifest now on disk (None when unreadable)."""
        try:
            return pod_hash(yaml.safe_load(self.paths.apiserver_manifest.read_text()))
        except (OSError, yaml.YAMLError):
            return None

    def wait_apiserver(self, timeout: float, previous_pid: int | None = None) -> dict:
        """Wait until the supervisor reports a ready apiserver (a new one if ``previous_pid``)."""
        deadline = time.monotonic() + timeout
        api = self.api(timeout=3)
        status, why = None, f"waited up to {timeout:.0f}s"
        while time.monotonic() < deadline:
            status = self.apiserver_status()
            if (status and status.get("ready") and status.get("pid") and status["pid"] != previous_pid
                    and api.healthy()):
                return status
            if status and not status.get("ready") and status.get("restart_count", 0) >= 3 \
                    and status.get("last_exit") and status["pid"] != previous_pid \
                    and status.get("manifest_sha256") == self._manifest_hash():
                # a status of the manifest it replaced says nothing yet: the supervisor has not picked it up
                why = "crash-looping on the manifest on disk"
                break
            sup = self.pids.read("static-pods")
            if sup is not None and not sup.alive():
                raise LabError(f"the static-pod supervisor exited; see {sup.log}:\n{tail(Path(sup.log))}")
            time.sleep(0.2)
        detail = ""
        if status:
            if status.get("error"):
                detail += f"\n  pod error: {status['error']}"
            if status.get("last_exit"):
                ex = status["last_exit"]
                detail += (f"\n  last exit: code {ex['exit_code']} at {ex['finished_at']}, log {ex['log']}:\n"
                           + "\n".join("    " + line for line in ex["log_tail"].splitlines()[-15:]))
            elif status.get("log"):
                detail += f"\n  log {status['log']}:\n" + "\n".join(
                    "    " + line for line in tail(status["log"], 3000).splitlines()[-15:])
        raise LabError(f"kube-apiserver did not become ready ({why}) "
                       f"(manifest {self.paths.apiserver_manifest}; status {self.paths.static_pods}/"
                       f"{APISERVER_POD}.json){detail}\n  `lab.py reset-apiserver` restores the lab's manifest.")

    # --- files ----------------------------------------------------------------------------
    def write_files(self, ports: dict) -> None:
        p = self.paths
        p.ensure()
        ensure_pki(p.pki, CONTROL_PLANE_NODE)
        server = f"https://127.0.0.1:{ports['kube-apiserver']}"
        write_kubeconfig(p.kubeconfig, server, p.pki, client="clients/admin", user=ADMIN_USER)
        write_kubeconfig(p.component_kubeconfig("admin"), server, p.pki, client="clients/admin", user=ADMIN_USER)
        for name, client, user in (("controller-manager", "controller-manager", "system:kube-controller-manager"),
                                   ("scheduler", "scheduler", "system:kube-scheduler"),
                                   ("kwok", "kwok", "kwok-controller"),
                                   ("provisioner", "provisioner", "lab-provisioner"),
                                   ("prometheus-operator", "prometheus-operator", "lab-prometheus-operator-host")):
            write_kubeconfig(p.component_kubeconfig(name), server, p.pki, client=f"clients/{client}", user=user)
        # No Stage documents: kwok plays its default stages. More workers than its defaults (4, and 1
        # for listing the pods of each node it takes over), so that 1000 nodes get their leases and
        # Ready status, and their pods are picked up again after a restart, in seconds.
        (p.run / "kwok.yaml").write_text(
            "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions:\n"
            "  nodePlayStageParallelism: 16\n  nodeLeaseParallelism: 16\n  podPlayStageParallelism: 8\n"
            "  podsOnNodeSyncParallelism: 16\n")
        if not p.audit_policy.exists():
            p.audit_policy.write_text(DEFAULT_POLICY)
        self.refresh_apiserver_manifest(ports)

    def refresh_apiserver_manifest(self, ports: dict) -> None:
        """Write the lab's manifest if there is none, or if the one there is an older lab manifest
        nobody changed (a version bump, new lab flags). A manifest a role changed is kept."""
        p = self.paths
        if not p.apiserver_manifest.exists():
            self.write_apiserver_manifest(ports)
            return
        current = hashlib.sha256(p.apiserver_manifest.read_bytes()).hexdigest()
        wanted = dump(apiserver_manifest(self.bins.kubernetes_version, ports["kube-apiserver"], ports["etcd"]))
        if current == hashlib.sha256(wanted.encode()).hexdigest():
            return
        if current == self.read_state().get("lab_manifest_sha256"):
            say(f"updating the lab's own apiserver manifest {p.apiserver_manifest} (new lab flags or versions)")
            self.write_apiserver_manifest(ports)
        else:
            say(f"keeping the apiserver manifest as changed since the lab wrote it ({p.apiserver_manifest}); "
                "`lab.py reset-apiserver` restores the lab's")

    def write_apiserver_manifest(self, ports: dict) -> None:
        text = dump(apiserver_manifest(self.bins.kubernetes_version, ports["kube-apiserver"], ports["etcd"]))
        tmp = self.paths.manifests / ".kube-apiserver.yaml.tmp"  # dot files are not manifests
        tmp.write_text(text)
        tmp.replace(self.paths.apiserver_manifest)
        self.write_state(lab_manifest_sha256=hashlib.sha256(text.encode()).hexdigest())

    # --- up ---------------------------------------------------------------------------------
    def ensure_binaries(self) -> None:
        if not self.bins.missing():
            return
        say(f"missing binaries: {', '.join(self.bins.missing())}; building them with {BUILD_SCRIPT}")
        result = subprocess.run(["bash", str(BUILD_SCRIPT), "all"], check=False)
        if result.returncode != 0:
            raise LabError(f"the build failed (exit {result.returncode}); its message above names the module "
                           f"and version. Re-run `make lab-build` after fixing it.")
        if self.bins.missing():
            raise LabError(f"still missing after the build: {', '.join(self.bins.missing())}")

    def node_count(self) -> int:
        raw = os.environ.get("LAB_NODES")
        if raw:
            try:
                return int(raw)
            except ValueError as exc:
                raise LabError(f"LAB_NODES={raw!r} is not a number") from exc
        return int(self.read_state().get("nodes", DEFAULT_NODES))

    def up(self, owner: str = "cli", real_nodes: int | None = None) -> dict:
        """Start what is not running, or reuse a healthy lab. ``owner`` is recorded when this call
        starts the lab (the pytest fixture stops only a lab that a fixture started). ``real_nodes``
        overrides LAB_REAL_NODES (the fixture that asks for a real node)."""
        with self.lock():
            return self._up(owner, real_nodes)

    def _up(self, owner: str, real_nodes: int | None = None) -> dict:
        t0 = time.monotonic()
        timings = {}
        count = self.node_count()
        nodes.node_names(count)  # validates
        if real_nodes is None:
            real_nodes = realnodes.requested(self.read_state())  # validates LAB_REAL_NODES before anything starts
        self.ensure_binaries()
        for cidr in network_guard.ensure():
            say(f"added the route `unreachable {cidr}` (simulated cluster addresses stay on this machine)")
        self.paths.ensure()
        running = self.running()
        fresh = not running["etcd"] and not running["static-pods"]
        ports = self.choose_ports()
        if all(running.values()) and self.paths.kubeconfig.exists() and self.api(timeout=5).healthy():
            say(f"reusing the running lab in {self.paths.root}")
            reused = True
        else:
            reused = False
            for name in PROCESSES:
                if not running[name]:
                    self.pids.clear_stale(name)
                    self.check_ports_free(ports, name)
            self.write_files(ports)
            timings["files"] = time.monotonic() - t0
            log = self.paths.logs
            if not running["etcd"]:
                rec = start(self.pids, "etcd", components.etcd(self.bins, self.paths, ports), log / "etcd.log")
                wait_port_open(ports["etcd"], 30, "etcd", rec.alive)
            if not running["static-pods"]:
                start(self.pids, "static-pods", components.python_entry("supervise"), log / "static-pods.log")
            starters = {
                "kube-controller-manager": components.controller_manager,
                "kube-scheduler": components.scheduler,
            }
            # the others retry until the apiserver answers, so they start alongside it
            for name, argv in starters.items():
                if not running[name]:
                    start(self.pids, name, argv(self.bins, self.paths, ports), log / f"{name}.log")
            self.wait_apiserver(90)
            timings["apiserver ready"] = time.monotonic() - t0
            if not running["kwok"]:
                nodes.release_leases(self.api())
                start(self.pids, "kwok", components.kwok(self.bins, self.paths, ports), log / "kwok.log")
            if not running["provisioner"]:
                start(self.pids, "provisioner", components.python_entry("provision"), log / "provisioner.log")
            if not running["prometheus-operator"]:
                start(self.pids, "prometheus-operator", components.python_entry("operator-host"),
                      log / "prometheus-operator.log")
        api = self.api()
        storage.ensure_storage_classes(api)
        created, deleted = nodes.reconcile(api, count)
        timings["nodes created"] = time.monotonic() - t0
        nodes.wait_ready(api, count, timeout=60 + count / 5)
        timings["nodes ready"] = time.monotonic() - t0
        # the lab's own writes for its real nodes go as lab-provisioner, not as the admin (the tests count those)
        own = KubeApi.from_kubeconfig(self.paths.component_kubeconfig("provisioner"), timeout=30)
        real = self.real_nodes().reconcile(own, real_nodes, ports)
        if real:
            timings["real nodes ready"] = time.monotonic() - t0
        if not reused:
            self.wait_controllers(60)
        timings["controllers"] = time.monotonic() - t0
        self.write_state(nodes=count, real_nodes=real, apiserver_url=self.apiserver_url, up_at=time.time())
        if fresh:  # repairing a lab someone else started does not make it ours
            self.write_state(owner=owner)
        info = self.info()
        info |= {"reused": reused, "nodes_created": created, "nodes_deleted": deleted, "timings": timings}
        return info

    def wait_controllers(self, timeout: float = 90) -> float:
        """Wait until kube-controller-manager acts on new objects again: a fresh namespace gets its
        default ServiceAccount. After an apiserver restart its informers may be backing off for up
        to half a minute. Runs as the lab's own user (lab-provisioner), not as the admin, so that it
        does not count among the admin's writes in the audit log."""
        api = KubeApi.from_kubeconfig(self.paths.component_kubeconfig("provisioner"), timeout=10)
        name = f"lab-canary-{os.getpid()}-{int(time.time() * 1000) % 100000}"
        t0 = time.monotonic()
        api.create_or_exists("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": name}})
        try:
            while time.monotonic() - t0 < timeout:
                try:
                    api.get(f"/api/v1/namespaces/{name}/serviceaccounts/default")
                    return time.monotonic() - t0
                except ApiError:
                    time.sleep(0.3)
        finally:
            api.delete(f"/api/v1/namespaces/{name}")
        raise LabError(f"kube-controller-manager did not create the default ServiceAccount of a new namespace "
                       f"within {timeout:.0f}s; see {self.paths.logs / 'kube-controller-manager.log'}")

    def info(self) -> dict:
        status = self.apiserver_status() or {}
        return {
            "lab_dir": str(self.paths.root),
            "kubeconfig": str(self.paths.kubeconfig),
            "apiserver_url": self.apiserver_url,
            "host_root": str(self.paths.host),
            "apiserver_manifest": str(self.paths.apiserver_manifest),
            "audit_policy": str(self.audit_path("--audit-policy-file") or self.paths.audit_policy),
            "audit_log": str(self.audit_path("--audit-log-path") or self.paths.default_audit_log),
            "apiserver_status": str(self.paths.static_pods / f"{APISERVER_POD}.json"),
            "apiserver_pid": status.get("pid"),
            "bin_root": str(self.bins.root),
        }

    def audit_path(self, flag: str):
        """The lab path the running apiserver uses for ``flag`` (after host-root mapping)."""
        status = self.apiserver_status() or {}
        for arg in status.get("argv") or []:
            if arg.startswith(flag + "="):
                value = arg.split("=", 1)[1]
                return Path(value) if value.startswith("/") else None
        return None

    # --- down / restart -------------------------------------------------------------------
    def down(self, purge: bool = False) -> list:
        with self.lock():
            return self._down(purge)

    def real_nodes(self) -> RealNodes:
        return RealNodes(self.paths, self.bins, self.pids, self.read_state, self.write_state)

    def _down(self, purge: bool) -> list:
        # the real nodes first: their kubelets and containers, then what they left on the host
        stopped = self.real_nodes().down()
        for name in reversed(PROCESSES):
            if stop(self.pids, name):
                stopped.append(name)
        # an apiserver whose supervisor died is still ours if its pid and command line say so
        status = self.apiserver_status()
        pid = (status or {}).get("pid")
        if pid and proc_start_ticks(pid) is not None and "kube-apiserver" in proc_cmdline(pid) \
                and str(self.paths.host) in proc_cmdline(pid):
            os.kill(pid, 15)
            stopped.append("kube-apiserver (orphan)")
        if purge:
            self.paths.purge()
        return stopped

    def restart_apiserver(self, wait: bool = True, timeout: float = 90) -> dict:
        """Restart the apiserver container without changing its manifest (as `crictl stop` would)."""
        status = self.apiserver_status()
        if not status or not self.pids.running("static-pods"):
            raise LabError("the lab is not running: `lab.py up` first")
        trigger = self.paths.static_pods / f"{APISERVER_POD}.restart"
        trigger.touch()
        if not wait:
            return status
        return self.wait_apiserver(timeout, previous_pid=status.get("pid"))

    def reset_apiserver(self, timeout: float = 90) -> dict:
        """Put back the lab's own manifest and default audit policy."""
        previous = (self.apiserver_status() or {}).get("pid")
        self.paths.audit_policy.parent.mkdir(parents=True, exist_ok=True)
        self.paths.audit_policy.write_text(DEFAULT_POLICY)
        for f in self.paths.manifests.iterdir():
            if f.name != "kube-apiserver.yaml" and f.is_file() and not f.name.startswith("."):
                f.unlink()
        before = self.paths.apiserver_manifest.read_text() if self.paths.apiserver_manifest.exists() else ""
        self.write_apiserver_manifest(self.choose_ports())
        if self.paths.apiserver_manifest.read_text() == before:
            return self.restart_apiserver(timeout=timeout)
        return self.wait_apiserver(timeout, previous_pid=previous)

    # --- status ---------------------------------------------------------------------------
    def status(self) -> dict:
        procs = {}
        ports = self.load_ports()
        for name in PROCESSES:
            rec = self.pids.read(name)
            alive = rec is not None and rec.alive()
            procs[name] = {"pid": rec.pid if rec else None, "running": alive,
                           "rss_kib": proc_rss_kib(rec.pid) if alive else 0,
                           "ports": {p: ports.get(p) for p in PORT_OF_PROCESS[name]}}
        api_status = self.apiserver_status() or {}
        pid = api_status.get("pid")
        procs["kube-apiserver"] = {"pid": pid, "running": bool(pid and proc_start_ticks(pid)),
                                   "rss_kib": proc_rss_kib(pid) if pid else 0,
                                   "ready": api_status.get("ready"), "restart_count": api_status.get("restart_count"),
                                   "phase": api_status.get("phase"), "error": api_status.get("error")}
        for name in self.real_nodes().process_names():
            rec = self.pids.read(name)
            alive = rec is not None and rec.alive()
            procs[name] = {"pid": rec.pid if rec else None, "running": alive,
                           "rss_kib": self.real_nodes().rss_kib(name) if alive else 0, "ports": {}}
        result = {"processes": procs, "rss_total_mib": round(sum(p["rss_kib"] for p in procs.values()) / 1024, 1),
                  "paths": self.info()}
        if procs["kube-apiserver"]["running"] and self.paths.kubeconfig.exists():
            api = self.api(timeout=5)
            if api.healthy():
                ready, total = nodes.ready_count(api)
                result["nodes"] = {"ready": ready, "total": total}
        return result
