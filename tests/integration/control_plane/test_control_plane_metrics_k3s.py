"""The control_plane_metrics role's k3s/rke2 path on a k3s-shaped host root, with a systemctl stand-in.

The host root holds /etc/rancher/<k3s|rke2>/config.yaml (the site's own component args), a site drop-in in
config.yaml.d and the server CA at /var/lib/rancher/<k3s|rke2>/server/tls/server-ca.crt. Two stand-ins:

- ``systemctl`` is a stand-in, first on PATH for the ansible-playbook run: ansible.builtin.systemd_service looks
  it up on PATH (then /sbin, /usr/sbin) and decides from ``systemctl show UNIT`` alone (LoadState, ActiveState)
  whether the unit exists and runs; it does not ask whether systemd is PID 1 or whether /run/systemd/system
  exists (only ansible.builtin.service's action plugin does), so the stand-in answers ``show`` as systemd does
  for a running unit and nothing else is faked. It records every call and, at each ``restart``, the drop-in
  the service would read then.
- the apiserver is a local HTTPS server with a certificate of that CA; its /readyz answers ``ok``, or, for the
  case of a k3s that does not come back, ``[-]etcd failed`` (500) for ever.

What is tested is the role's order of write, restart, wait and rollback on the real files. What the drop-in
means to k3s is asked of k3s's own config loader (github.com/k3s-io/k3s/pkg/configfilearg, built as
k3s-config by ``tools/lab/build.sh k3s-config``); rke2 reads its config with the same package.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from labctl import pki
from labctl.paths import cache_root, read_versions

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SERVICES = {"k3s": "k3s", "rke2": "rke2-server"}
DROPIN_NAME = "91-homelab-observability-metrics.yaml"
K3S_CONFIG = cache_root() / "bin" / f"k3s-config-{read_versions()['K3S_MODULE_VERSION']}" / "k3s-config"

# The site's own configuration, as the role finds it: component args in config.yaml and an earlier drop-in.
SITE_CONFIG = """\
write-kubeconfig-mode: "0600"
cluster-init: true
kube-controller-manager-arg:
  - node-monitor-grace-period=20s
kube-scheduler-arg: [v=2]
kube-proxy-arg:
  - conntrack-max-per-core=0
"""
SITE_DROPIN = "kube-controller-manager-arg+: [terminated-pod-gc-threshold=10]\n"

SYSTEMCTL = r'''#!{python}
"""Stand-in for systemctl (tests/integration/control_plane/test_control_plane_metrics_k3s.py)."""
import json, os, sys, time
log, dropin, units = {log!r}, {dropin!r}, {units!r}
args = sys.argv[1:]
record = {{"t": time.time(), "argv": args}}
if args[:1] == ["restart"]:
    record["dropin"] = open(dropin).read() if os.path.exists(dropin) else None
with open(log, "a") as f:
    f.write(json.dumps(record) + "\n")
if args[:1] == ["show"] and args[1:] and args[1] in units:
    print("Id=%s.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled" % args[1])
elif args[:1] == ["show"]:
    print("Id=%s.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead" % args[1])
elif args[:1] == ["restart"] and args[1:] and args[1] in units:
    # a marker file plays a k3s that refuses our drop-in: systemd's answer when the unit's process exits
    ours = "homelab.observability" in (record["dropin"] or "")
    if os.path.exists(log + ".fail-restart") and (ours or os.path.exists(log + ".fail-restart-always")):
        print("Job for %s.service failed because the control process exited with error code." % args[1],
              file=sys.stderr)
        sys.exit(1)
else:
    print("systemctl stand-in: %s is not what the role may call" % " ".join(args), file=sys.stderr)
    sys.exit(1)
'''


class Apiserver(threading.Thread):
    """HTTPS /readyz: ``ok``, or 500 with a failed check; each probe lands in the call log.

    ``ready``: True, False (never), or "unless ours" (not while the service's last restart read the role's drop-in:
    a k3s that does not come back with it and does with the previous configuration).
    """

    def __init__(self, pki_dir: Path, log: Path):
        super().__init__(daemon=True)
        self.ready: bool | str = True
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                ready = outer.is_ready(log)
                with open(log, "a") as f:
                    f.write(json.dumps({"readyz": self.path, "ready": ready}) + "\n")
                body = b"ok" if ready else b"[-]etcd failed: reason withheld\nreadyz check failed\n"
                self.send_response(200 if ready else 500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki_dir / "serving.crt", pki_dir / "serving.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/readyz"

    def is_ready(self, log: Path) -> bool:
        if self.ready != "unless ours":
            return bool(self.ready)
        restarts = [c for c in map(json.loads, log.read_text().splitlines()) if c.get("argv", [None])[0] == "restart"]
        return not restarts or "homelab.observability" not in (restarts[-1]["dropin"] or "")

    def run(self) -> None:
        self.server.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _host_root(tmp: Path, distribution: str) -> Path:
    root = tmp / "host"
    config = root / f"etc/rancher/{distribution}"
    (config / "config.yaml.d").mkdir(parents=True)
    (config / "config.yaml").write_text(SITE_CONFIG)
    (config / "config.yaml.d/10-site.yaml").write_text(SITE_DROPIN)
    tls = root / f"var/lib/rancher/{distribution}/server/tls"
    tls.mkdir(parents=True)
    shutil.copy(tmp / "pki/server-ca.crt", tls / "server-ca.crt")
    return root


@pytest.fixture(params=["k3s", "rke2"])
def host(request, tmp_path):
    distribution = request.param
    pki_dir = tmp_path / "pki"
    pki.make_ca(pki_dir, "server-ca", f"{distribution}-server-ca")
    pki.make_cert(pki_dir, pki.CertSpec(name="serving", ca="server-ca", cn="kube-apiserver", server=True,
                                        ips=("127.0.0.1",)))
    root = _host_root(tmp_path, distribution)
    log = tmp_path / "calls.jsonl"
    log.touch()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dropin = root / f"etc/rancher/{distribution}/config.yaml.d/{DROPIN_NAME}"
    systemctl = bin_dir / "systemctl"
    units = sorted([*SERVICES.values(), "k3s-agent", "rke2-agent"])
    systemctl.write_text(SYSTEMCTL.format(python=sys.executable, log=str(log), dropin=str(dropin), units=units))
    systemctl.chmod(0o755)
    apiserver = Apiserver(pki_dir, log)
    apiserver.start()
    yield Host(distribution, root, dropin, log, bin_dir, apiserver, tmp_path)
    apiserver.stop()


@dataclass
class Host:
    """The host root of one distribution, its stand-ins, and the ansible-playbook run of the role on it."""

    distribution: str
    root: Path
    dropin: Path
    log: Path
    bin_dir: Path
    apiserver: Apiserver
    tmp: Path

    @property
    def service(self) -> str:
        return SERVICES[self.distribution]

    @property
    def fail_restart_with_ours(self) -> Path:
        """While this file exists, the service refuses to start with the role's drop-in."""
        return Path(str(self.log) + ".fail-restart")

    @property
    def fail_restart_always(self) -> Path:
        """With fail_restart_with_ours: the service refuses to start with any configuration."""
        return Path(str(self.log) + ".fail-restart-always")

    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def restarts(self) -> list[dict]:
        return [c for c in self.calls() if c.get("argv", [None])[0] == "restart"]

    def play(self, extra: dict | None = None, *options: str) -> subprocess.CompletedProcess:
        (self.tmp / "inventory.yml").write_text(yaml.safe_dump({"control_plane": {"hosts": {"cp-0": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
        variables = {
            "control_plane_metrics_distribution": self.distribution,
            "control_plane_metrics_host_root": str(self.root),
            "control_plane_metrics_readyz_url": self.apiserver.url,
            "control_plane_metrics_wait_timeout": 20,
        } | (extra or {})
        (self.tmp / "play.yml").write_text(yaml.safe_dump([{
            "name": "control-plane metrics", "hosts": "control_plane", "gather_facts": False,
            "roles": [{"role": "homelab.observability.control_plane_metrics", "vars": variables}]}]))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build/collections"),
                   ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   PATH=f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}")
        command = [str(BIN / "ansible-playbook"), "-i", str(self.tmp / "inventory.yml"), str(self.tmp / "play.yml")]
        return subprocess.run([*command, *options], env=env, capture_output=True, text=True, timeout=300, check=False)


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def test_the_dropin_is_written_the_service_restarts_once_and_a_rerun_changes_nothing(host):
    proc = host.play()
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert oct(host.dropin.stat().st_mode & 0o777) == "0o600"
    restarts = host.restarts()
    assert [r["argv"] for r in restarts] == [["restart", host.service]]
    assert restarts[0]["dropin"] == host.dropin.read_text(), "the service restarted after the drop-in was written"
    # the role waited for the apiserver after the restart, not before
    calls = host.calls()
    first_restart = next(i for i, c in enumerate(calls) if c.get("argv", [None])[0] == "restart")
    assert any("readyz" in c for c in calls[first_restart:]), calls
    again = host.play()
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
    assert len(host.restarts()) == 1, "a second run restarts nothing"


def test_state_absent_removes_the_dropin_and_restarts(host):
    assert host.play().returncode == 0
    back = host.play({"control_plane_metrics_state": "absent"})
    assert back.returncode == 0, back.stdout[-5000:]
    assert not host.dropin.exists()
    assert [r["dropin"] for r in host.restarts()][1:] == [None]
    assert (host.dropin.parent / "10-site.yaml").read_text() == SITE_DROPIN, "the site's drop-in stays"


def test_an_agent_gets_kube_proxy_s_args_and_a_restart_without_an_apiserver_wait(host):
    agent = f"{host.distribution}-agent"
    proc = host.play({"control_plane_metrics_service": agent, "control_plane_metrics_components": ["kube-proxy"]})
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert yaml.safe_load(host.dropin.read_text()) == {"kube-proxy-arg+": ["metrics-bind-address=0.0.0.0:10249"]}
    assert [r["argv"] for r in host.restarts()] == [["restart", agent]]
    assert not any("readyz" in c for c in host.calls()), "an agent runs no apiserver to wait for"


def test_a_service_that_does_not_come_back_gets_the_previous_dropin_back_byte_for_byte(host):
    previous = "# an older version of the drop-in, kept as it was\nkube-scheduler-arg+: [bind-address=0.0.0.0]\n"
    host.dropin.write_text(previous)
    host.dropin.chmod(0o600)
    host.apiserver.ready = False
    proc = host.play({"control_plane_metrics_wait_timeout": 3})
    assert proc.returncode != 0
    assert f"{host.service} did not come back with the metrics drop-in {host.dropin}" in proc.stdout, \
        proc.stdout[-5000:]
    assert f"The previous configuration was put back and {host.service} restarted; the apiserver is not ready yet" \
        in proc.stdout, proc.stdout[-3000:]
    assert "etcd failed" in proc.stdout, "the message says why the apiserver was not ready"
    assert host.dropin.read_bytes() == previous.encode()
    assert oct(host.dropin.stat().st_mode & 0o777) == "0o600"
    restarts = host.restarts()
    assert len(restarts) == 2, restarts
    assert _sha(restarts[0]["dropin"]) != _sha(previous), "the first restart read the new drop-in"
    assert restarts[1]["dropin"] == previous, "the second restart read the previous drop-in, already back"


def test_a_service_that_does_not_come_back_without_a_previous_dropin_loses_the_new_one(host):
    host.apiserver.ready = "unless ours"
    proc = host.play({"control_plane_metrics_wait_timeout": 3})
    assert proc.returncode != 0
    assert f"{host.service} did not come back with the metrics drop-in" in proc.stdout, proc.stdout[-5000:]
    assert not host.dropin.exists()
    restarts = host.restarts()
    assert [r["dropin"] is None for r in restarts] == [False, True], restarts
    assert f"{host.service} restarted; the apiserver is ready again" in proc.stdout, proc.stdout[-3000:]
    assert (host.dropin.parent / "10-site.yaml").read_text() == SITE_DROPIN


@pytest.mark.skipif(not K3S_CONFIG.exists(), reason=f"{K3S_CONFIG} missing: run tools/lab/build.sh k3s-config")
def test_k3s_own_loader_reads_the_site_args_and_the_metrics_args_the_role_promises(host):
    proc = host.play({"control_plane_metrics_bind_address": "192.168.56.10",
                      "control_plane_metrics_kube_proxy_address": "192.168.56.10"})
    assert proc.returncode == 0, proc.stdout[-5000:]
    loaded = subprocess.run([str(K3S_CONFIG), str(host.root / f"etc/rancher/{host.distribution}/config.yaml")],
                            capture_output=True, text=True, timeout=30, check=False)
    assert loaded.returncode == 0, loaded.stderr
    assert "Unknown flag" not in loaded.stderr, "every key of the drop-in is a server flag: " + loaded.stderr
    args = json.loads(loaded.stdout)

    def values(flag):
        return [a.split("=", 1)[1] for a in args if a.startswith(f"--{flag}=")]

    # the site's args stay, in file order, and ours come after them (a later value of a flag wins)
    assert values("kube-controller-manager-arg") == [
        "node-monitor-grace-period=20s", "terminated-pod-gc-threshold=10", "bind-address=192.168.56.10"]
    assert values("kube-scheduler-arg") == ["v=2", "bind-address=192.168.56.10"]
    assert values("kube-proxy-arg") == ["conntrack-max-per-core=0", "metrics-bind-address=192.168.56.10:10249"]
    assert values("etcd-expose-metrics") == ["true"]
    assert values("write-kubeconfig-mode") == ["0600"] and values("cluster-init") == ["true"]


@pytest.mark.skipif(not K3S_CONFIG.exists(), reason=f"{K3S_CONFIG} missing: run tools/lab/build.sh k3s-config")
def test_k3s_own_loader_without_etcd_and_kube_proxy_keeps_the_site_args_of_both(host):
    proc = host.play({"control_plane_metrics_components": ["kube-controller-manager", "kube-scheduler"]})
    assert proc.returncode == 0, proc.stdout[-5000:]
    loaded = subprocess.run([str(K3S_CONFIG), str(host.root / f"etc/rancher/{host.distribution}/config.yaml")],
                            capture_output=True, text=True, timeout=30, check=False)
    args = json.loads(loaded.stdout)
    assert "--kube-proxy-arg=conntrack-max-per-core=0" in args
    assert not any(a.startswith(("--etcd-expose-metrics", "--kube-proxy-arg=metrics")) for a in args), args
    assert "--kube-scheduler-arg=bind-address=0.0.0.0" in args


def test_a_host_with_its_flags_in_the_unit_only_gets_the_dropin_directory(host):
    # install.sh puts the server's flags on the unit's command line: neither config.yaml nor config.yaml.d exist,
    # and k3s still reads config.yaml.d/*.yaml
    shutil.rmtree(host.dropin.parent)
    (host.dropin.parent.parent / "config.yaml").unlink()
    proc = host.play()
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert oct(host.dropin.parent.stat().st_mode & 0o777) == "0o755"
    assert [r["dropin"] is not None for r in host.restarts()] == [True]
    assert "changed=0" in host.play().stdout
    if K3S_CONFIG.exists():
        loaded = subprocess.run([str(K3S_CONFIG), str(host.dropin.parent.parent / "config.yaml")],
                                capture_output=True, text=True, timeout=30, check=False)
        assert "--kube-scheduler-arg=bind-address=0.0.0.0" in json.loads(loaded.stdout), loaded.stderr


def test_a_restart_that_fails_puts_the_previous_state_back_and_says_why(host):
    host.fail_restart_with_ours.touch()
    proc = host.play()
    assert proc.returncode != 0
    assert f"{host.service} did not come back with the metrics drop-in" in proc.stdout, proc.stdout[-5000:]
    assert "control process exited with error code" in proc.stdout, "systemd's error is in the message"
    assert not host.dropin.exists()
    assert [r["dropin"] is None for r in host.restarts()] == [False, True]
    calls = host.calls()
    second_restart = [i for i, c in enumerate(calls) if c.get("argv", [None])[0] == "restart"][1]
    assert not any("readyz" in c for c in calls[:second_restart]), "no wait for a service that did not start"
    assert "the apiserver is ready again" in proc.stdout, proc.stdout[-3000:]


def test_a_rollback_restart_that_fails_too_says_so(host):
    host.fail_restart_with_ours.touch()
    host.fail_restart_always.touch()
    proc = host.play()
    assert proc.returncode != 0
    assert f"The previous configuration was put back but {host.service} could NOT be restarted: Unable to restart" \
        in proc.stdout, proc.stdout[-5000:]
    assert not host.dropin.exists() and len(host.restarts()) == 2


def test_a_dropin_directory_that_cannot_be_made_stops_the_role_before_any_restart(host):
    shutil.rmtree(host.dropin.parent)
    host.dropin.parent.write_text("not a directory\n")
    proc = host.play()
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert host.restarts() == [], "nothing was changed, so nothing restarts"
    assert "could not be changed: " in proc.stdout and f"The drop-in was not changed and {host.service} was not " \
        "restarted" in proc.stdout, proc.stdout[-3000:]


def test_check_mode_on_a_host_without_config_yaml_d_changes_and_restarts_nothing(host):
    shutil.rmtree(host.dropin.parent)
    proc = host.play(None, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert not host.dropin.parent.exists()
    assert [c["argv"][0] for c in host.calls() if "argv" in c] in ([], ["show"]), "check mode restarts nothing"
