"""One call each for tools/lab/lab.py: start the metrics path next to the lab, stop it, show it.

    import monitoring
    stack = monitoring.lab_up(".lab", kube_state_metrics_binary=Binaries.discover().kube_state_metrics)
    monitoring.lab_down(".lab")

Everything is found from the lab's layout (overridable): the kubeconfig ``<lab>/kubeconfig`` and
its server URL, the CA and admin client certificate under ``<lab>/host/etc/kubernetes/pki``. The
state goes to ``<lab>/monitoring`` and the variables for playbooks/verify.yml to
``<lab>/monitoring/verify-vars.yml`` (report directory ``<lab>/report``).
"""

from __future__ import annotations

import os
from pathlib import Path

from labctl.kubeapi import kubeconfig_server

from . import stack as _stack
from .config import ApiserverScrape
from .verify_vars import write_verify_vars


def lab_paths(lab_dir, kubeconfig=None, pki_dir=None, state_dir=None, report_dir=None):
    lab = Path(lab_dir).resolve()
    pki = Path(pki_dir) if pki_dir else lab / "host" / "etc" / "kubernetes" / "pki"
    state = Path(state_dir) if state_dir else lab / "monitoring"
    return {
        "kubeconfig": Path(kubeconfig) if kubeconfig else lab / "kubeconfig",
        "ca": pki / "ca.crt", "cert": pki / "clients" / "admin.crt", "key": pki / "clients" / "admin.key",
        "state": state, "vars": state / "verify-vars.yml",
        "report": Path(report_dir) if report_dir else lab / "report",
    }


def lab_up(lab_dir, *, kube_state_metrics_binary=None, kubeconfig=None, pki_dir=None, state_dir=None,
           report_dir=None, wait_scraped=True, **start_options):
    """Start Prometheus (scraping node-exporter, the apiserver and kube-state-metrics when its binary
    exists), Alertmanager and node-exporter for the lab; write verify-vars.yml. Reuses a running one."""
    p = lab_paths(lab_dir, kubeconfig, pki_dir, state_dir, report_dir)
    running = _stack.MonitoringStack.load(p["state"])
    if running and running.pids and all(st["running"] for st in _stack.status(p["state"]).values()):
        write_verify_vars(running, p["vars"], str(p["report"]))
        return running
    _stack.stop(p["state"])
    missing = [str(p[k]) for k in ("kubeconfig", "ca", "cert", "key") if not p[k].exists()]
    if missing:
        raise _stack.MonitoringError("the lab is not up (missing %s): run `make lab-up` first" % ", ".join(missing))
    ksm = kube_state_metrics_binary
    if ksm and not os.access(str(ksm), os.X_OK):
        ksm = None  # not built: Prometheus runs without it and verify skips that check with the reason
    apiserver = ApiserverScrape(kubeconfig_server(p["kubeconfig"]), ca_file=str(p["ca"]), cert_file=str(p["cert"]),
                                key_file=str(p["key"]))
    started = _stack.start(p["state"], apiserver=apiserver, kubeconfig=str(p["kubeconfig"]),
                           kube_state_metrics_binary=str(ksm) if ksm else None, wait_scraped=wait_scraped,
                           **start_options)
    write_verify_vars(started, p["vars"], str(p["report"]))
    return started


def lab_down(lab_dir, state_dir=None):
    return _stack.stop(lab_paths(lab_dir, state_dir=state_dir)["state"])


def lab_status(lab_dir, state_dir=None):
    return _stack.status(lab_paths(lab_dir, state_dir=state_dir)["state"])
