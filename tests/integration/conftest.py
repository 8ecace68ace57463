"""Fixtures for the integration tests: the lab control plane (tools/lab/README.md).

``lab`` (session scope) starts the lab once per run, or reuses one that is already running
(``make lab-up``, another pytest session), and stops it at the end only if this session started
it and no other session still uses it. ``LAB_KEEP=1`` leaves it running; ``LAB_NODES=N`` sizes it.

    def test_something(lab):
        client = lab.api_client()                      # kubernetes.client.ApiClient, admin
        since = lab.now()
        ...                                            # act through lab.kubeconfig
        assert lab.write_requests(since, user=lab.admin_user) == []
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

LAB_TOOLS = Path(__file__).resolve().parents[2] / "tools" / "lab"
if str(LAB_TOOLS) not in sys.path:
    sys.path.insert(0, str(LAB_TOOLS))

from labctl import audit, realnodes  # noqa: E402
from labctl.control import APISERVER_POD, Lab  # noqa: E402
from labctl.paths import LabError  # noqa: E402
from labctl.pki import ADMIN_USER  # noqa: E402
from labctl.processes import proc_start_ticks  # noqa: E402


@dataclass
class LabHandle:
    """What a test needs from the lab. Paths are absolute ``Path`` objects."""

    control: Lab
    started_here: bool
    kubeconfig: Path = field(init=False)
    lab_dir: Path = field(init=False)
    host_root: Path = field(init=False)
    apiserver_url: str = field(init=False)
    apiserver_manifest: Path = field(init=False)
    bin_dir: Path = field(init=False)
    kubectl: Path = field(init=False)
    helm3: Path = field(init=False)
    helm4: Path = field(init=False)
    kube_state_metrics: Path = field(init=False)
    admin_user: str = ADMIN_USER

    def __post_init__(self):
        p, b = self.control.paths, self.control.bins
        self.kubeconfig = p.kubeconfig
        self.lab_dir = p.root
        self.host_root = p.host
        self.apiserver_url = self.control.apiserver_url
        self.apiserver_manifest = p.apiserver_manifest
        self.bin_dir = b.root
        self.kubectl, self.helm3, self.helm4 = b.kubectl, b.helm3, b.helm4
        self.kube_state_metrics = b.kube_state_metrics

    # --- where the running apiserver writes (follows the manifest the audit role writes) ---------
    @property
    def audit_log_path(self) -> Path:
        return Path(self.control.info()["audit_log"])

    @property
    def audit_policy_path(self) -> Path:
        return Path(self.control.info()["audit_policy"])

    def on_host(self, host_path: str) -> Path:
        """The lab path of an absolute path on the control-plane host, e.g. /etc/kubernetes/pki."""
        return self.control.paths.on_host(host_path)

    def env(self) -> dict:
        """Environment for subprocesses (kubectl, helm, ansible-playbook) that should target the lab."""
        return os.environ | {"KUBECONFIG": str(self.kubeconfig), "K8S_AUTH_KUBECONFIG": str(self.kubeconfig),
                             "LAB_DIR": str(self.lab_dir),
                             "PATH": f"{self.kubectl.parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def api_client(self):
        """A kubernetes.client.ApiClient authenticated as the admin (``kubernetes-admin``)."""
        from kubernetes import config  # noqa: PLC0415 - only the tests that use it need the client

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    # --- audit log ---------------------------------------------------------------------------
    @staticmethod
    def now() -> datetime.datetime:
        """A timestamp to pass as ``since`` (UTC, microseconds, like the audit log's)."""
        return datetime.datetime.now(datetime.UTC)

    def audit_events(self, since=None, user: str | None = None, verbs=None, *, include_dry_run: bool = True,
                     namespace: str | None = None, settle: float = 0.5) -> list[dict]:
        """Audit events received at or after ``since`` (datetime, epoch seconds or RFC 3339),
        optionally by ``user``, with a verb in ``verbs``, in ``namespace`` (objects in it and the
        Namespace itself). Waits ``settle`` seconds first, for events of requests that just
        completed. Reads rotated backups too.

        The lab is shared by every test session of the checkout, all as ``kubernetes-admin``:
        filter by ``namespace`` (a name unique to the test) where you can."""
        if settle:
            time.sleep(settle)
        return list(audit.events(self.audit_log_path, since, user, verbs, include_dry_run=include_dry_run,
                                 namespace=namespace))

    def write_requests(self, since, user: str | None = ADMIN_USER, *, include_dry_run: bool = True,
                       namespace: str | None = None, settle: float = 0.5) -> list[dict]:
        """Write requests (create, update, patch, delete, deletecollection) since ``since`` by
        ``user`` (None: anyone). ``include_dry_run=False`` drops ``?dryRun=All`` requests."""
        return self.audit_events(since, user, audit.WRITE_VERBS, include_dry_run=include_dry_run,
                                 namespace=namespace, settle=settle)

    def count_writes(self, since, user: str | None = ADMIN_USER, *, include_dry_run: bool = True,
                     namespace: str | None = None) -> int:
        return len(self.write_requests(since, user, include_dry_run=include_dry_run, namespace=namespace))

    @staticmethod
    def split_deploy_lock(events: list[dict]) -> tuple[list[dict], list[dict]]:
        """(other writes, the waves module's deploy-lock writes): every deploy takes and releases its Lease."""
        lock = [e for e in events if (e.get("objectRef") or {}).get("resource") == "leases"
                and (e.get("objectRef") or {}).get("name") == "homelab-observability-deploy"]
        return [e for e in events if e not in lock], lock

    @staticmethod
    def describe(events: list[dict]) -> str:
        """One line per event, for assertion messages."""
        return "\n".join(audit.summary(e) for e in events)

    # --- the apiserver static pod ---------------------------------------------------------------
    def apiserver_status(self) -> dict:
        """The supervisor's record: pid, started_at, ready, restart_count, argv, error, last_exit
        (exit_code, finished_at, log, log_tail), manifest_sha256."""
        return self.control.apiserver_status() or {}

    def wait_apiserver_ready(self, timeout: float = 90, previous_pid: int | None = None) -> dict:
        """Until the supervisor reports the apiserver ready (a new process if ``previous_pid``)."""
        return self.control.wait_apiserver(timeout, previous_pid)

    def wait_controllers(self, timeout: float = 90) -> float:
        """Until kube-controller-manager acts on new objects again (after an apiserver restart
        its informers can back off for up to ~30 s). Writes as ``lab-provisioner``, not the admin."""
        return self.control.wait_controllers(timeout)

    def restart_apiserver(self, timeout: float = 90) -> dict:
        """Restart the apiserver with its manifest unchanged; wait for it and the controllers."""
        status = self.control.restart_apiserver(timeout=timeout)
        self.wait_controllers(timeout)
        return status

    def reset_apiserver(self, timeout: float = 90) -> dict:
        """Put back the lab's manifest and default audit policy; wait for the apiserver and controllers."""
        status = self.control.reset_apiserver(timeout=timeout)
        self.wait_controllers(timeout)
        return status


def _users_dir(control: Lab) -> Path:
    return control.paths.run / "fixture-users"


def _live_users(control: Lab) -> list[Path]:
    live = []
    for f in _users_dir(control).glob("*"):
        pid, _, ticks = f.name.partition("-")
        if str(proc_start_ticks(int(pid))) == ticks:
            live.append(f)
        else:
            f.unlink(missing_ok=True)
    return live


@pytest.fixture(scope="session")
def lab():
    control = Lab.discover()
    try:
        info = control.up(owner="fixture")
    except LabError as exc:
        pytest.fail(f"the lab did not come up: {exc}", pytrace=False)
    me = _users_dir(control) / f"{os.getpid()}-{proc_start_ticks(os.getpid())}"
    me.parent.mkdir(parents=True, exist_ok=True)
    me.touch()
    handle = LabHandle(control, started_here=not info["reused"])
    assert handle.apiserver_status().get("pod") == f"kube-system/{APISERVER_POD}"
    yield handle
    me.unlink(missing_ok=True)
    if os.environ.get("LAB_KEEP"):
        return
    if control.read_state().get("owner") == "fixture" and not _live_users(control):
        control.down()


@pytest.fixture(scope="module")
def real_node(lab):
    """A real node of the lab (kubelet + containerd, tools/lab/labctl/realnodes.py): the first one.
    The lab gets one if it has none (as `LAB_REAL_NODES=1 lab.py up` would), and loses it again at
    the end of the module unless LAB_KEEP=1 or it had real nodes before."""
    control = lab.control
    had = int(control.read_state().get("real_nodes") or 0)
    try:
        control.up(owner="fixture", real_nodes=max(had, 1))
    except LabError as exc:
        pytest.fail(f"the lab's real node did not come up: {exc}", pytrace=False)
    yield realnodes.nodes_of(control.paths, 1)[0]
    if had == 0 and not os.environ.get("LAB_KEEP"):
        control.up(owner="fixture", real_nodes=0)
