"""Fixtures for the verify integration tests.

``metrics`` starts the real Debian Prometheus, Alertmanager and node-exporter through
tools/lab/monitoring (plus a scrape job pointed at a closed port, for the target-down case) and
stops them at the end of the module. ``lab_metrics`` does the same with the lab: kube-state-metrics
(the lab's pinned build) against the lab apiserver, and the apiserver's own /metrics.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LAB_TOOLS = ROOT / "tools" / "lab"
if str(LAB_TOOLS) not in sys.path:
    sys.path.insert(0, str(LAB_TOOLS))

import monitoring  # noqa: E402
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi  # noqa: E402
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import (  # noqa: E402
    ApiserverTransport,
    DirectTransport,
)
from monitoring.stack import free_port  # noqa: E402

DOWN_JOB = "down-exporter"


def _need_binaries():
    try:
        monitoring.find_binaries()
    except monitoring.MonitoringError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    """Real Prometheus + Alertmanager + node-exporter; job ``down-exporter`` scrapes a closed port."""
    _need_binaries()
    state = tmp_path_factory.mktemp("monitoring")
    dead = {"job_name": DOWN_JOB, "static_configs": [{"targets": ["127.0.0.1:%d" % free_port()]}]}
    stack = monitoring.start(state, extra_scrape_configs=[dead], wait_scraped=True)
    yield stack
    monitoring.stop(state)


@pytest.fixture(scope="module")
def lab_metrics(lab, tmp_path_factory):
    """The lab's metrics path: Prometheus scraping the lab's kube-state-metrics (when it is built),
    a node-exporter and the lab apiserver's /metrics, with Alertmanager wired to it."""
    _need_binaries()
    ksm = Path(lab.kube_state_metrics)
    pki = lab.on_host("/etc/kubernetes/pki")
    state = tmp_path_factory.mktemp("lab-monitoring")
    apiserver = monitoring.ApiserverScrape(url=lab.apiserver_url, ca_file=str(pki / "ca.crt"),
                                           cert_file=str(pki / "clients" / "admin.crt"),
                                           key_file=str(pki / "clients" / "admin.key"))
    stack = monitoring.start(state, apiserver=apiserver, kubeconfig=str(lab.kubeconfig),
                             kube_state_metrics_binary=str(ksm) if ksm.exists() else None, wait_scraped=True)
    yield stack
    monitoring.stop(state)


@pytest.fixture
def direct():
    return lambda url: DirectTransport(url, timeout=5)


@pytest.fixture
def lab_apiserver(lab):
    return ApiserverTransport(KubeApi(lab.api_client()), timeout=10)


@pytest.fixture
def ansible_playbook():
    path = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    if not path:
        pytest.fail("ansible-playbook is not installed next to %s" % sys.executable, pytrace=False)
    return path
