"""Start and stop the lab's Prometheus, Alertmanager, node-exporter (Debian packages) and, when
asked, a kube-state-metrics against the lab's apiserver."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labctl.processes import free_port, proc_start_ticks

from . import config as cfg

STATE_FILE = "monitoring.json"
# what the kube_prometheus_stack role gives Prometheus by default, so role verify's default holds here too
RETENTION_SIZE = "16GB"
DEBIAN_PACKAGES = ("prometheus", "prometheus-alertmanager", "prometheus-node-exporter")
DEFAULT_BINARIES = {
    "prometheus": "prometheus",
    "alertmanager": "prometheus-alertmanager",
    "node_exporter": "prometheus-node-exporter",
}
# every component: what /-/ready-like path tells it is serving
READY_PATHS = {
    "prometheus": "/-/ready",
    "alertmanager": "/-/ready",
    "node_exporter": "/metrics",
    "kube_state_metrics": "/healthz",
}


class MonitoringError(Exception):
    """A failure whose message names the cause and the fix."""


@dataclass
class MonitoringStack:
    """What ``start`` started: URLs, pids, and the files it wrote (all under ``state_dir``)."""

    state_dir: str
    ports: dict
    pids: dict = field(default_factory=dict)
    commands: dict = field(default_factory=dict)
    retention: str = "15d"
    kube_state_metrics: str | None = None  # host:port Prometheus scrapes as job kube-state-metrics

    def url(self, name):
        return "http://127.0.0.1:%d" % self.ports[name]

    @property
    def prometheus_url(self):
        return self.url("prometheus")

    @property
    def alertmanager_url(self):
        return self.url("alertmanager")

    @property
    def node_exporter_url(self):
        return self.url("node_exporter")

    @property
    def kube_state_metrics_url(self):
        return "http://" + self.kube_state_metrics if self.kube_state_metrics else None

    @property
    def jobs(self):
        """Scrape job names Prometheus has (for verify's expected jobs)."""
        return json.loads(Path(self.state_dir, "jobs.json").read_text())

    def save(self):
        Path(self.state_dir, STATE_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, state_dir):
        path = Path(state_dir, STATE_FILE)
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


def find_binaries(overrides=None):
    """Paths of the three Debian binaries; MonitoringError naming the apt packages when missing."""
    found, missing = {}, []
    for name, default in DEFAULT_BINARIES.items():
        candidate = (overrides or {}).get(name) or os.environ.get("LAB_%s_BIN" % name.upper()) or default
        path = candidate if os.path.sep in candidate else shutil.which(candidate)
        if not path or not os.access(path, os.X_OK):
            missing.append(candidate)
        else:
            found[name] = path
    if missing:
        raise MonitoringError(
            "missing %s: install the Debian packages (apt-get install %s; tools/install-debian-deps.sh does it)"
            % (", ".join(missing), " ".join(DEBIAN_PACKAGES)))
    return found


def _alive(pid, binary):
    try:
        cmdline = Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")[0].decode()
    except (OSError, ValueError):
        return False
    return cmdline == binary or os.path.basename(cmdline) == os.path.basename(binary)


def _wait_serving(name, url, proc, log, timeout):
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise MonitoringError("%s exited with code %s; see %s:\n%s" % (name, proc.returncode, log, _tail(log)))
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = "HTTP %d" % resp.status
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise MonitoringError("%s did not serve %s within %ss (%s); see %s" % (name, url, timeout, last, log))


def _tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start(state_dir, *, apiserver=None, kube_state_metrics=None, kubeconfig=None, kube_state_metrics_binary=None,
          retention="15d", scrape_interval="2s", binaries=None, ports=None, extra_scrape_configs=(),
          extra_rule_groups=(), alertmanager_webhook_url=None, wait_scraped=False, timeout=30.0):
    """Start node-exporter, Alertmanager and Prometheus (and kube-state-metrics when asked).

    state_dir                   where configs, data, logs and monitoring.json go (created)
    apiserver                   config.ApiserverScrape: Prometheus scrapes its /metrics as job ``apiserver``
    kube_state_metrics          host:port of a running kube-state-metrics to scrape, or
    kubeconfig + kube_state_metrics_binary   start one against that cluster
    retention                   --storage.tsdb.retention.time (verify checks it; the seed says 15d)
    scrape_interval             also the rule evaluation interval
    binaries                    {prometheus, alertmanager, node_exporter: path} overrides
    ports                       {prometheus, alertmanager, node_exporter, kube_state_metrics: int} overrides
    extra_scrape_configs        more scrape_configs entries (dicts), e.g. a job pointed at a closed port
    extra_rule_groups           more rule groups (dicts) next to the lab's homelab-lab group
    alertmanager_webhook_url    route the Watchdog alert to a webhook receiver at this URL
    wait_scraped                also wait until Prometheus has scraped every target once (about 5 s
                                after start: its discovery runs every 5 s)

    Returns a MonitoringStack once every component serves. Everything is stopped again if one
    fails to start. Raises MonitoringError.
    """
    state = Path(state_dir).resolve()
    existing = MonitoringStack.load(state)
    if existing and any(_alive(pid, existing.commands[n][0]) for n, pid in existing.pids.items()):
        raise MonitoringError("the lab monitoring in %s is already running (pids %s): stop it first"
                              % (state, existing.pids))
    bins = find_binaries(binaries)
    state.mkdir(parents=True, exist_ok=True)
    (state / "logs").mkdir(exist_ok=True)
    ports = dict(ports or {})
    for name in ("prometheus", "alertmanager", "node_exporter"):
        ports.setdefault(name, free_port(set(ports.values())))
    ksm_address = kube_state_metrics
    if ksm_address is None and kube_state_metrics_binary:
        if not kubeconfig:
            raise MonitoringError("starting kube-state-metrics needs kubeconfig= (the lab's kubeconfig)")
        ports.setdefault("kube_state_metrics", free_port(set(ports.values())))
        ports.setdefault("kube_state_metrics_telemetry", free_port(set(ports.values())))
        ksm_address = "127.0.0.1:%d" % ports["kube_state_metrics"]
        bins["kube_state_metrics"] = str(kube_state_metrics_binary)

    prom_config = cfg.prometheus_config(ports, scrape_interval, ksm_address, apiserver, extra_scrape_configs)
    (state / "prometheus.yml").write_text(cfg.dump(prom_config))
    (state / "rules.yml").write_text(cfg.dump(cfg.rules(extra_rule_groups)))
    (state / "alertmanager.yml").write_text(cfg.dump(cfg.alertmanager_config(alertmanager_webhook_url)))
    (state / "jobs.json").write_text(json.dumps([job["job_name"] for job in prom_config["scrape_configs"]]))

    commands = {
        "node_exporter": [bins["node_exporter"], "--web.listen-address=127.0.0.1:%d" % ports["node_exporter"],
                          "--no-collector.systemd"],
        "alertmanager": [bins["alertmanager"], "--config.file=%s" % (state / "alertmanager.yml"),
                         "--storage.path=%s" % (state / "alertmanager-data"),
                         "--web.listen-address=127.0.0.1:%d" % ports["alertmanager"],
                         "--cluster.listen-address="],
        "prometheus": [bins["prometheus"], "--config.file=%s" % (state / "prometheus.yml"),
                       "--storage.tsdb.path=%s" % (state / "prometheus-data"),
                       "--storage.tsdb.retention.time=%s" % retention,
                       "--storage.tsdb.retention.size=%s" % RETENTION_SIZE,
                       # alerts fire before the Alertmanager is discovered; the default resend (1m)
                       # would keep them from it that long
                       "--rules.alert.resend-delay=2s",
                       "--web.listen-address=127.0.0.1:%d" % ports["prometheus"]],
    }
    if "kube_state_metrics" in bins:
        commands["kube_state_metrics"] = [
            bins["kube_state_metrics"], "--kubeconfig=%s" % kubeconfig, "--host=127.0.0.1",
            "--port=%d" % ports["kube_state_metrics"], "--telemetry-host=127.0.0.1",
            "--telemetry-port=%d" % ports["kube_state_metrics_telemetry"]]
    stack = MonitoringStack(str(state), ports, {}, commands, retention, ksm_address)
    order = [n for n in ("kube_state_metrics", "node_exporter", "alertmanager", "prometheus") if n in commands]
    try:
        for name in order:
            log = state / "logs" / ("%s.log" % name)
            with open(log, "ab") as out:
                proc = subprocess.Popen(commands[name], stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=state, start_new_session=True)
            stack.pids[name] = proc.pid
            stack.save()
            _wait_serving(name, "http://127.0.0.1:%d%s" % (ports[name], READY_PATHS[name]), proc, log, timeout)
        if wait_scraped:
            _wait_scraped(stack, timeout)
    except BaseException:
        stop(state)
        raise
    return stack


def _wait_scraped(stack, timeout):
    jobs = set(stack.jobs)
    deadline = time.monotonic() + timeout
    scraped = set()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(stack.prometheus_url + "/api/v1/targets?state=active", timeout=2) as resp:
                seen = json.load(resp)["data"]["activeTargets"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            seen = []
        scraped = {t["labels"].get("job") for t in seen if t.get("health") != "unknown"}
        if jobs <= scraped:
            return
        time.sleep(0.25)
    raise MonitoringError("Prometheus did not scrape every job within %ss (scraped: %s of %s); see %s/logs"
                          % (timeout, sorted(scraped), sorted(jobs), stack.state_dir))


def stop(state_dir, timeout=10.0):
    """Stop what ``start`` started in state_dir (by recorded pid, checked against its binary).

    Returns the names stopped. Safe to call twice or when nothing runs.
    """
    stack = MonitoringStack.load(state_dir)
    if stack is None:
        return []
    stopped = []
    for name, pid in list(stack.pids.items()):
        binary = stack.commands.get(name, [""])[0]
        if not _alive(pid, binary):
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        stopped.append(name)
    deadline = time.monotonic() + timeout
    for name in stopped:
        pid = stack.pids[name]
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _gone(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 5
            while not _gone(pid) and time.monotonic() < kill_deadline:
                time.sleep(0.05)
    stack.pids = {}
    stack.save()
    return stopped


def _gone(pid):
    """True once pid has exited (reaped when it is our child, or a zombie/absent otherwise)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return proc_start_ticks(pid) is None


def status(state_dir):
    """{name: {pid, running, url}} for what state_dir records; empty when nothing was started."""
    stack = MonitoringStack.load(state_dir)
    if stack is None:
        return {}
    return {name: {"pid": pid, "running": _alive(pid, stack.commands[name][0]),
                   "url": "http://127.0.0.1:%d" % stack.ports[name]}
            for name, pid in stack.pids.items()}
