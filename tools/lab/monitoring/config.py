"""Configuration files for the lab's Prometheus and Alertmanager (plain data, rendered as YAML)."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

RULE_GROUP = "homelab-lab"


@dataclass(frozen=True)
class ApiserverScrape:
    """How Prometheus scrapes the apiserver's own /metrics (job ``apiserver``).

    Give ``ca_file`` and either a client certificate (``cert_file`` + ``key_file``) or a bearer
    ``token_file``; ``url`` is ``https://host:port``.
    """

    url: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    token_file: str | None = None
    insecure_skip_verify: bool = False


def _static(job, address, **extra):
    config = {"job_name": job, "static_configs": [{"targets": [address]}]}
    config.update(extra)
    return config


def prometheus_config(ports, scrape_interval="2s", kube_state_metrics=None, apiserver=None, extra_scrape_configs=()):
    """prometheus.yml as a dict. ``ports`` has prometheus, alertmanager, node_exporter."""
    scrapes = [
        _static("prometheus", "127.0.0.1:%d" % ports["prometheus"]),
        _static("alertmanager", "127.0.0.1:%d" % ports["alertmanager"]),
        _static("node-exporter", "127.0.0.1:%d" % ports["node_exporter"]),
    ]
    if kube_state_metrics:
        scrapes.append(_static("kube-state-metrics", kube_state_metrics))
    if apiserver is not None:
        scheme, _, address = apiserver.url.partition("://")
        tls = {"insecure_skip_verify": apiserver.insecure_skip_verify}
        if apiserver.ca_file:
            tls["ca_file"] = apiserver.ca_file
        if apiserver.cert_file:
            tls["cert_file"] = apiserver.cert_file
            tls["key_file"] = apiserver.key_file
        job = _static("apiserver", address.rstrip("/"), scheme=scheme or "https", tls_config=tls)
        if apiserver.token_file:
            job["authorization"] = {"type": "Bearer", "credentials_file": apiserver.token_file}
        scrapes.append(job)
    scrapes.extend(extra_scrape_configs)
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval,
                   "external_labels": {"lab": "homelab-observability"}},
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:%d" % ports["alertmanager"]]}]}]},
        "rule_files": ["rules.yml"],
        "scrape_configs": scrapes,
    }


def rules(extra_groups=()):
    """A Watchdog alert that always fires (proves the alert path) and a recording rule, plus
    ``extra_groups`` (Prometheus rule group dicts)."""
    return {"groups": [{
        "name": RULE_GROUP,
        "rules": [
            {"alert": "Watchdog", "expr": "vector(1)",
             "labels": {"severity": "none"},
             "annotations": {"summary": "Always firing: proves that alerts reach Alertmanager."}},
            {"record": "job:up:sum", "expr": "sum by (job) (up)"},
        ],
    }] + list(extra_groups)}


def alertmanager_config(webhook_url=None):
    """Everything to the null receiver; with ``webhook_url``, the Watchdog to a webhook receiver there."""
    config = {
        "route": {"receiver": "null", "group_by": ["alertname"], "group_wait": "1s"},
        "receivers": [{"name": "null"}],
    }
    if webhook_url:
        config["route"]["routes"] = [{"receiver": "webhook", "matchers": ['alertname="Watchdog"'],
                                      "group_wait": "1s", "repeat_interval": "1m"}]
        config["receivers"].append({"name": "webhook",
                                    "webhook_configs": [{"url": webhook_url, "send_resolved": False}]})
    return config


def dump(data):
    return yaml.safe_dump(data, sort_keys=False)
