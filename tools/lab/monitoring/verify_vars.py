"""The variables that point role ``verify`` (playbooks/verify.yml) at the lab.

The lab runs Prometheus, Alertmanager, node-exporter (and kube-state-metrics when built) for real,
on free ports picked at start, so the inventory cannot hold their URLs: the lab writes this file
and passes it with ``-e @.lab/monitoring/verify-vars.yml``. Everything the lab only simulates
(kwok pods serve nothing) is skipped with the reason, never reported as passed.
"""

from __future__ import annotations

from pathlib import Path

import yaml

EXPORTARR = ["sonarr", "radarr", "prowlarr", "bazarr"]
SIMULATED = {
    "loki": "the lab simulates Loki's pod (kwok): nothing serves its API",
    "grafana": "the lab simulates Grafana's pod (kwok): nothing serves its API",
    "vpa": "the lab simulates Goldilocks and the VPA recommender (kwok): they create no VPA objects "
           "and no recommendations",
    "http": "the lab simulates the Uptime Kuma and Exportarr pods (kwok): nothing serves their HTTP",
    "prometheus.targets.kubelet": "the lab's nodes are kwok-simulated: there is no kubelet to scrape",
    "prometheus.targets.cadvisor": "the lab's nodes are kwok-simulated: there is no kubelet/cAdvisor to scrape",
    "prometheus.targets.vpa-recommender": "the lab simulates the VPA recommender pod (kwok)",
}


def verify_vars(stack, report_dir: str | None = None) -> dict:
    """Role ``verify`` variables for a started MonitoringStack."""
    jobs = set(stack.jobs)
    prometheus_jobs = [
        # one real node-exporter on this host (the lab's nodes are simulated, so not one per node)
        {"name": "node-exporter", "job": "node-exporter", "min_targets": 1},
        {"name": "kube-state-metrics", "job": "kube-state-metrics"},
        {"name": "kubelet", "job": "kubelet", "match": {"metrics_path": "/metrics"}},
        {"name": "cadvisor", "job": "kubelet", "match": {"metrics_path": "/metrics/cadvisor"}},
        {"name": "vpa-recommender", "job": "vpa-recommender"},
        {"name": "alertmanager", "job": "alertmanager"},
    ]
    skip = dict(SIMULATED)
    for target in EXPORTARR:
        skip["prometheus.targets.exportarr-" + target] = "the lab simulates the Exportarr pods (kwok)"
    if "kube-state-metrics" not in jobs:
        skip["prometheus.targets.kube-state-metrics"] = "kube-state-metrics is not built in this lab (make lab-build)"
    if "apiserver" in jobs:
        prometheus_jobs.append({"name": "apiserver", "job": "apiserver"})
    data = {
        "verify_prometheus_access": {"url": stack.prometheus_url},
        "verify_alertmanager_access": {"url": stack.alertmanager_url},
        "verify_alertmanager_url_pattern": r"127\.0\.0\.1:%d/" % stack.ports["alertmanager"],
        "verify_prometheus_jobs": prometheus_jobs,
        "verify_prometheus_retention": stack.retention,
        "verify_prometheus_wait_timeout": 15,
        "verify_exportarr_targets": list(EXPORTARR),
        "verify_skip": skip,
    }
    if report_dir:
        data["verify_report_dir"] = str(report_dir)
    return data


def write_verify_vars(stack, path, report_dir: str | None = None) -> Path:
    path = Path(path)
    path.write_text("# written by tools/lab/monitoring for playbooks/verify.yml on the lab\n"
                    + yaml.safe_dump(verify_vars(stack, report_dir), sort_keys=False))
    return path
