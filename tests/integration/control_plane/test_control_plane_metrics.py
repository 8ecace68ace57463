"""The control_plane_metrics role on a kubeadm-shaped host root, with a kubelet stand-in.

The host root holds kubeadm v1.34's manifests of kube-controller-manager, kube-scheduler and etcd
(tests/unit/control_plane/fixtures). A thread plays the kubelet: whenever a manifest changes it stops
the component's process and starts a new one with the manifest's command line, as a static pod
(the process serves 200 on its health port, so the role's wait sees a new process with the new
flags; one that is given ``--bind-address=::`` exits with an ``Error:`` line in its pod log, as a
component does that cannot start). The components are stand-ins, not the real binaries: what is
tested is the role's order of edit, wait and rollback on the real files, not kube-scheduler.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
FIXTURES = ROOT / "tests/unit/control_plane/fixtures"
COMPONENTS = ("kube-controller-manager", "kube-scheduler", "etcd")

COMPONENT = r'''
import http.server, sys, time
port, log = int(sys.argv[1]), sys.argv[2]
with open(log, "a") as f:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    if "--bind-address=::" in sys.argv:
        f.write(stamp + " stderr F Error: failed to create listener: listen tcp [::]: address family not supported\n")
        sys.exit(1)
    f.write(stamp + " stderr F serving on 127.0.0.1:%d\n" % port)

class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", port), Ok).serve_forever()
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Kubelet(threading.Thread):
    """Restarts a component whenever its manifest's text changes; records every command line it started."""

    def __init__(self, root: Path, script: Path, ports: dict):
        super().__init__(daemon=True)
        self.root, self.script, self.ports = root, script, ports
        self.procs, self.seen, self.started = {}, {}, {c: [] for c in COMPONENTS}
        self.stop_event = threading.Event()

    def _start(self, component: str, text: str) -> None:
        old = self.procs.pop(component, None)
        if old is not None:
            old.terminate()
            old.wait(10)
        command = yaml.safe_load(text)["spec"]["containers"][0]["command"]
        logs = self.root / f"var/log/pods/kube-system_{component}-cp-0_uid/{component}"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{len(self.started[component])}.log"
        self.started[component].append(command)
        self.procs[component] = subprocess.Popen([sys.executable, str(self.script), str(self.ports[component]),
                                                  str(log), *command[1:]])

    def run(self) -> None:
        while not self.stop_event.is_set():
            for component in COMPONENTS:
                text = (self.root / f"etc/kubernetes/manifests/{component}.yaml").read_text()
                if self.seen.get(component) != text:
                    self.seen[component] = text
                    self._start(component, text)
            time.sleep(0.2)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(10)
        for proc in self.procs.values():
            proc.terminate()
            proc.wait(10)


@pytest.fixture
def host(tmp_path):
    root = tmp_path / "host"
    manifests = root / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    for component in COMPONENTS:
        (manifests / f"{component}.yaml").write_text((FIXTURES / f"kubeadm-v1.34-{component}.yaml").read_text())
    (manifests / "kube-apiserver.yaml").write_text(
        (ROOT / "tests/unit/audit/fixtures/kubeadm-v1.34-kube-apiserver.yaml").read_text())
    script = tmp_path / "component.py"
    script.write_text(COMPONENT)
    ports = {c: _free_port() for c in COMPONENTS}
    kubelet = Kubelet(root, script, ports)
    kubelet.start()
    deadline = time.monotonic() + 20
    while not all(kubelet.started.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    yield root, kubelet, tmp_path
    kubelet.stop()


def _play(host, extra: dict | None = None) -> subprocess.CompletedProcess:
    root, kubelet, tmp = host
    (tmp / "inventory.yml").write_text(yaml.safe_dump({"control_plane": {"hosts": {"cp-0": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    variables = {
        "control_plane_metrics_host_root": str(root),
        "control_plane_metrics_packages": [],
        "control_plane_metrics_components": list(COMPONENTS),
        "control_plane_metrics_etcd_address": "192.168.56.10",
        "control_plane_metrics_wait_timeout": 40,
        "control_plane_metrics_health_urls": {c: f"http://127.0.0.1:{p}/healthz" for c, p in kubelet.ports.items()},
    } | (extra or {})
    (tmp / "play.yml").write_text(yaml.safe_dump([{
        "name": "control-plane metrics", "hosts": "control_plane", "gather_facts": False,
        "roles": [{"role": "homelab.observability.control_plane_metrics", "vars": variables}]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build/collections"),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(tmp / "inventory.yml"), str(tmp / "play.yml")],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def _flags(root, component):
    command = yaml.safe_load((root / f"etc/kubernetes/manifests/{component}.yaml").read_text())["spec"]["containers"][0]
    return [a for a in command["command"] if a.startswith(("--bind-address", "--listen-metrics-urls"))]


def test_each_component_restarts_with_its_metrics_on_the_node_and_back(host):
    root, kubelet, _tmp = host
    proc = _play(host)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert _flags(root, "kube-scheduler") == ["--bind-address=0.0.0.0"]
    assert _flags(root, "kube-controller-manager") == ["--bind-address=0.0.0.0"]
    assert _flags(root, "etcd") == ["--listen-metrics-urls=http://127.0.0.1:2381,http://192.168.56.10:2381"]
    # each component's new process ran the new flag (the kubelet started it from the new manifest)
    assert "--bind-address=0.0.0.0" in kubelet.started["kube-scheduler"][-1]
    assert len(kubelet.started["etcd"]) == 2
    backups = sorted(p.name for p in (root / "etc/kubernetes/tmp").iterdir())
    assert len(backups) == 3, backups
    again = _play(host)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
    assert len(kubelet.started["kube-scheduler"]) == 2, "a second run restarts nothing"
    back = _play(host, {"control_plane_metrics_state": "absent"})
    assert back.returncode == 0, back.stdout[-5000:]
    for component in COMPONENTS:
        assert (root / f"etc/kubernetes/manifests/{component}.yaml").read_text() == \
            (FIXTURES / f"kubeadm-v1.34-{component}.yaml").read_text(), component


def test_a_component_that_does_not_come_back_is_rolled_back_and_the_next_is_not_touched(host):
    root, kubelet, _tmp = host
    # kube-controller-manager first: it cannot bind ::, so kube-scheduler must stay as kubeadm wrote it
    proc = _play(host, {"control_plane_metrics_bind_address": "::"})
    assert proc.returncode != 0
    assert "kube-controller-manager did not come back after its flags changed" in proc.stdout, proc.stdout[-5000:]
    assert "address family not supported" in proc.stdout
    assert "put back from" in proc.stdout and "healthy again" in proc.stdout, proc.stdout[-3000:]
    assert _flags(root, "kube-controller-manager") == ["--bind-address=127.0.0.1"]
    assert _flags(root, "kube-scheduler") == ["--bind-address=127.0.0.1"]
    assert len(kubelet.started["kube-scheduler"]) == 1
    assert kubelet.started["kube-controller-manager"][-1] == kubelet.started["kube-controller-manager"][0]


def test_a_stale_backup_in_the_manifests_directory_stops_it_before_any_change(host):
    root, kubelet, _tmp = host
    (root / "etc/kubernetes/manifests/kube-scheduler.yaml.bak").write_text("stale")
    proc = _play(host)
    assert proc.returncode != 0 and "kube-scheduler.yaml.bak" in proc.stdout, proc.stdout[-3000:]
    assert all(len(started) == 1 for started in kubelet.started.values()), "nothing restarted"
    assert json.dumps(_flags(root, "etcd")) == '["--listen-metrics-urls=http://127.0.0.1:2381"]'
