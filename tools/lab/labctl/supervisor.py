"""The lab's kubelet, reduced to static pods: runs every Pod manifest in the manifests
directory of the host root as a local process and keeps it running.

Like the kubelet:
- every file in the directory whose name does not start with '.' is a manifest; two files with
  the same pod name: the first by file name wins, the other is reported as a duplicate;
- a change of the Pod object (not of the file's bytes or mtime, and not of any file the pod
  only mounts, such as the audit policy) stops the old process and starts the new one;
- a process that exits is restarted with a back-off (1 s doubling to 10 s here; the kubelet's is
  10 s to 5 min), and a manifest change restarts at once.
Not like the kubelet: no mirror pods in the API and no liveness kills (readiness is probed).

When the apiserver is ready again after a restart, the supervisor restarts the lab's
controller processes (kube-controller-manager, kube-scheduler, kwok, the Prometheus Operator). Their informers would
otherwise sit in client-go's watch back-off (up to 30 s with 100 % jitter, and it only resets after
two quiet minutes) after the RBAC-denied watches of the apiserver's first second: with a restart
every few seconds in the tests, new namespaces waited 80 s for their ServiceAccount.
It also restarts any of them (and the lab's provisioner) that exits while the lab is up, as the
kubelet restarts kubeadm's kube-controller-manager and kube-scheduler pods: kube-controller-manager
exits by design when the apiserver goes away while it starts.

Force a restart without changing the manifest (what `crictl stop` does on a real host):
``lab.py restart-apiserver``, touching ``.lab/static-pods/<pod>.restart``, or SIGTERM to the pid.

Each pod's status is written to ``.lab/static-pods/<pod>.json`` (see ``write_status``); each run's
output to ``<host>/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log``.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from .kubeapi import ApiError, KubeApi
from .nodes import release_leases
from .paths import CONTROL_PLANE_NODE, Binaries, LabPaths
from .processes import PidFiles, start, stop, tail
from .static_pod import PodError, pod_hash, resolve

POLL = 0.5
BACKOFF_MAX = 10.0
CONTROLLERS = ("kube-controller-manager", "kube-scheduler", "kwok", "prometheus-operator")


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def status_file(paths: LabPaths, pod_name: str) -> Path:
    """``pod_name`` is the mirror pod name, e.g. ``kube-apiserver-lab-cp-0``."""
    return paths.static_pods / f"{pod_name}.json"


def read_status(paths: LabPaths, pod_name: str) -> dict | None:
    try:
        return json.loads(status_file(paths, pod_name).read_text())
    except (FileNotFoundError, ValueError):
        return None


class Pod:
    def __init__(self, key: str, source: Path, doc: dict, digest: str):
        self.key, self.source, self.doc, self.hash = key, source, doc, digest
        self.uid = digest[:16]
        self.proc: subprocess.Popen | None = None
        self.launch = None
        self.started_at: float | None = None
        self.restart_count = -1
        self.last_exit: dict | None = None
        self.error: str | None = None
        self.backoff = 0.0
        self.next_start = 0.0
        self.ready = False
        self.next_probe = 0.0
        self.log_path: Path | None = None
        self.warnings: list = []

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]


class Supervisor:
    def __init__(self, paths: LabPaths, node: str = CONTROL_PLANE_NODE):
        self.paths, self.node = paths, node
        self.bins = Binaries.discover()
        self.pods: dict[str, Pod] = {}
        self.stopping = False
        self.ssl = ssl.create_default_context()
        self.ssl.check_hostname = False
        self.ssl.verify_mode = ssl.CERT_NONE
        self.container_root = paths.static_pods / "container-rootfs"
        self.ready_before: set = set()  # pods that have been ready once under this supervisor
        self.next_revive = time.monotonic() + 5.0

    # --- manifests ------------------------------------------------------------------------
    def scan(self) -> tuple[dict, list]:
        wanted, problems = {}, []
        try:
            files = sorted(p for p in self.paths.manifests.iterdir() if not p.name.startswith(".") and p.is_file())
        except FileNotFoundError:
            files = []
        for f in files:
            try:
                doc = yaml.safe_load(f.read_text())
                if not isinstance(doc, dict):
                    raise PodError("not a YAML mapping")
                meta = doc.get("metadata") or {}
                key = f"{meta.get('namespace') or 'default'}/{meta.get('name')}-{self.node}"
            except (OSError, yaml.YAMLError, PodError) as exc:
                problems.append(f"{f.name}: cannot read the pod manifest: {exc}")
                continue
            if key in wanted:
                problems.append(f"{f.name}: pod {key} is a duplicate of {wanted[key][0].name}; ignored")
                continue
            wanted[key] = (f, doc, pod_hash(doc))
        return wanted, problems

    def sync(self) -> None:
        wanted, problems = self.scan()
        self.problems = problems
        replaced = {}
        for key in list(self.pods):
            if key not in wanted or wanted[key][2] != self.pods[key].hash:
                old = self.pods.pop(key)
                self.kill(old, reason="manifest changed" if key in wanted else "manifest removed")
                replaced[key] = old
                with contextlib.suppress(FileNotFoundError):
                    if key not in wanted:
                        status_file(self.paths, key.split("/", 1)[1]).unlink()
        for key, (f, doc, digest) in wanted.items():
            if key not in self.pods:
                pod = self.pods[key] = Pod(key, f, doc, digest)
                if key in replaced:  # a new pod; its status keeps how the previous one ended
                    pod.last_exit = replaced[key].last_exit
                self.write_status(pod)
        now = time.time()
        for pod in self.pods.values():
            self.check_restart_request(pod)
            if pod.proc is not None and pod.proc.poll() is not None:
                self.exited(pod)
            if pod.proc is None and now >= pod.next_start:
                self.start(pod)
            if pod.proc is not None and now >= pod.next_probe:
                self.probe(pod)

    # --- processes ------------------------------------------------------------------------
    def start(self, pod: Pod) -> None:
        try:
            pod.launch = resolve(pod.doc, self.paths.host, self.container_root, self.bins, self.node)
        except PodError as exc:
            pod.error = str(exc)
            pod.next_start = time.time() + 2.0
            self.write_status(pod)
            return
        pod.error = None
        pod.warnings = pod.launch.warnings
        pod.restart_count += 1
        ns, name = pod.key.split("/", 1)
        log_dir = self.paths.pod_logs / f"{ns}_{name}_{pod.uid}" / pod.launch.container
        log_dir.mkdir(parents=True, exist_ok=True)
        pod.log_path = log_dir / f"{pod.restart_count}.log"
        old = log_dir / f"{pod.restart_count - 5}.log"  # keep the last five runs
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
        env = dict(os.environ) | pod.launch.env
        with open(pod.log_path, "wb") as out:
            pod.proc = subprocess.Popen(pod.launch.argv, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, env=env, cwd=self.paths.host)
        pod.started_at = time.time()
        pod.ready = False
        pod.next_probe = time.time() + 0.5
        self.write_status(pod)

    def exited(self, pod: Pod) -> None:
        code = pod.proc.returncode
        pod.last_exit = {
            "exit_code": code if code >= 0 else 128 - code,
            "signal": -code if code < 0 else None,
            "reason": "Completed" if code == 0 else "Error",
            "started_at": iso(pod.started_at),
            "finished_at": iso(time.time()),
            "pid": pod.proc.pid,
            "log": str(pod.log_path),
            "log_tail": tail(pod.log_path, 4000),
        }
        pod.proc = None
        pod.ready = False
        pod.backoff = min(BACKOFF_MAX, pod.backoff * 2 if pod.backoff else 1.0)
        pod.next_start = time.time() + pod.backoff
        self.write_status(pod)

    def kill(self, pod: Pod, reason: str, timeout: float | None = None) -> None:
        """SIGTERM, then SIGKILL after the pod's terminationGracePeriodSeconds (30 s by default)."""
        if pod.proc is None:
            return
        if timeout is None:
            timeout = float((pod.doc.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        with contextlib.suppress(ProcessLookupError):
            pod.proc.send_signal(signal.SIGTERM)
        try:
            pod.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pod.proc.kill()
            pod.proc.wait()
        self.exited(pod)
        pod.last_exit["reason"] = f"Killed ({reason})"
        pod.backoff = 0.0
        pod.next_start = 0.0
        self.write_status(pod)

    def check_restart_request(self, pod: Pod) -> None:
        """A restart file touched after the process started asks for a restart."""
        trigger = self.paths.static_pods / f"{pod.name}.restart"
        try:
            mtime = trigger.stat().st_mtime
        except FileNotFoundError:
            return
        if pod.proc is not None and pod.started_at is not None and mtime > pod.started_at:
            self.kill(pod, reason="restart requested")

    def probe(self, pod: Pod) -> None:
        p = pod.launch.probe if pod.launch else None
        pod.next_probe = time.time() + 1.0
        if p is None:
            ready = True
        else:
            url = f"{p['scheme']}://{p['host']}:{p['port']}{p['path']}"
            try:
                with urllib.request.urlopen(url, timeout=2, context=self.ssl) as resp:
                    ready = resp.status == 200
            except (OSError, ValueError):
                ready = False
        if ready != pod.ready:
            pod.ready = ready
            if ready:
                pod.backoff = 0.0
            self.write_status(pod)
            if ready and pod.name.startswith("kube-apiserver-"):
                if pod.name in self.ready_before:
                    self.restart_controllers()
                self.ready_before.add(pod.name)

    @contextlib.contextmanager
    def lab_lock(self):
        """The lab's lock if free (None while `up` or `down` is at work: leave the processes to them)."""
        with open(self.paths.root / ".lock", "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield None
                return
            yield f

    def restart_controllers(self) -> None:
        """Fresh informers for the lab's controllers after an apiserver restart (see the module doc)."""
        with self.lab_lock() as locked:
            if locked is None:
                return
            pids = PidFiles(self.paths.run)
            records = [r for r in (pids.running(n) for n in CONTROLLERS) if r is not None]
            for r in records:
                stop(pids, r.name, timeout=10)
            if any(r.name == "kwok" for r in records):
                self.release_leases()
            for r in records:
                start(pids, r.name, r.argv, Path(r.log))
            if records:
                print(f"supervisor: restarted {', '.join(r.name for r in records)} after the apiserver restart",
                      flush=True)

    def revive_exited(self) -> None:
        """Restart a recorded lab process that exited (not while `up` or `down` hold the lab's lock)."""
        with self.lab_lock() as locked:
            if locked is None:
                return
            pids = PidFiles(self.paths.run)
            for name in (*CONTROLLERS, "provisioner"):
                record = pids.read(name)
                if record is not None and not record.alive():
                    print(f"supervisor: {name} (pid {record.pid}) exited; restarting it (log {record.log})",
                          flush=True)
                    if name == "kwok":
                        self.release_leases()
                    start(pids, name, record.argv, Path(record.log))

    def release_leases(self) -> None:
        try:
            release_leases(KubeApi.from_kubeconfig(self.paths.component_kubeconfig("provisioner"), timeout=10))
        except (OSError, ApiError) as exc:
            print(f"supervisor: could not release the node leases for kwok: {exc}", flush=True)

    # --- status ---------------------------------------------------------------------------
    def write_status(self, pod: Pod) -> None:
        if pod.proc is not None:
            phase = "Running"
        elif pod.error:
            phase = "Failed"
        elif pod.last_exit and pod.backoff:
            phase = "CrashLoopBackOff"
        else:
            phase = "Pending"
        doc = {
            "pod": pod.key,
            "manifest": str(pod.source),
            "manifest_sha256": pod.hash,
            "uid": pod.uid,
            "phase": phase,
            "ready": pod.ready,
            "pid": pod.proc.pid if pod.proc else None,
            "started_at": pod.started_at if pod.proc else None,
            "started_at_iso": iso(pod.started_at) if pod.proc else None,
            "restart_count": max(pod.restart_count, 0),
            "argv": pod.launch.argv if pod.launch else None,
            "log": str(pod.log_path) if pod.log_path else None,
            "warnings": pod.warnings,
            "error": pod.error,
            "last_exit": pod.last_exit,
            "manifest_problems": getattr(self, "problems", []),
            "supervisor_pid": os.getpid(),
            "updated_at": iso(time.time()),
        }
        target = status_file(self.paths, pod.name)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        tmp.replace(target)

    # --- main loop ------------------------------------------------------------------------
    def run(self) -> int:
        def on_signal(_signum, _frame):
            self.stopping = True
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.paths.static_pods.mkdir(parents=True, exist_ok=True)
        print(f"supervisor: watching {self.paths.manifests}", flush=True)
        while not self.stopping:
            try:
                self.sync()
                if time.monotonic() >= self.next_revive:
                    self.next_revive = time.monotonic() + 2.0
                    self.revive_exited()
            except Exception as exc:  # keep supervising; the status files carry the details
                print(f"supervisor: sync failed: {exc!r}", file=sys.stderr, flush=True)
            time.sleep(POLL)
        for pod in self.pods.values():
            self.kill(pod, reason="supervisor stopped", timeout=15)
        print("supervisor: stopped", flush=True)
        return 0


def main() -> int:
    return Supervisor(LabPaths.discover()).run()
