# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus and Alertmanager HTTP API clients (the documented v1/v2 JSON shapes)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import (
    ProbeError,
    expect_ok,
    expect_ready,
)


class PrometheusClient:
    """``/-/ready`` and the ``/api/v1`` endpoints the checks read."""

    name = "Prometheus"

    def __init__(self, transport):
        self.transport = transport

    def ready(self):
        return expect_ready(self.transport, self.name, "/-/ready")

    def _api(self, path, params=None):
        resp = expect_ok(self.transport.request("GET", path, params), "%s %s" % (self.name, path))
        body = resp.json()
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise ProbeError("%s %s did not succeed: %s" % (self.name, path, error or resp.snippet()))
        return body.get("data")

    def active_targets(self):
        return (self._api("/api/v1/targets", {"state": "active"}) or {}).get("activeTargets") or []

    def flags(self):
        return self._api("/api/v1/status/flags") or {}

    def runtime_info(self):
        return self._api("/api/v1/status/runtimeinfo") or {}

    def rule_groups(self):
        return (self._api("/api/v1/rules") or {}).get("groups") or []

    def query(self, expr):
        return self._api("/api/v1/query", {"query": expr}) or {}

    def alertmanagers(self):
        return self._api("/api/v1/alertmanagers") or {}

    def alerts(self):
        return (self._api("/api/v1/alerts") or {}).get("alerts") or []


class AlertmanagerClient:
    """``/-/ready``, ``/api/v2/status`` and the ``/metrics`` text exposition."""

    name = "Alertmanager"

    def __init__(self, transport):
        self.transport = transport

    def ready(self):
        return expect_ready(self.transport, self.name, "/-/ready")

    def status(self):
        return expect_ok(self.transport.request("GET", "/api/v2/status"), "Alertmanager /api/v2/status").json()

    def metrics_text(self):
        return expect_ok(self.transport.request("GET", "/metrics"), "Alertmanager /metrics").text

    def metrics(self):
        return parse_metrics(self.metrics_text())


# name, the {...} label block (quoted values may hold '}' and escaped quotes), the value
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"n": "\n", "\\": "\\", '"': '"'}


def _samples(text):
    """``(name, label block, value)`` of each sample line of the Prometheus text format."""
    for raw in text.splitlines():
        match = _SAMPLE.match(raw.strip())
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        yield match.group(1), match.group(2) or "", value


def parse_metrics(text):
    """``{metric name: [value, ...]}`` from the Prometheus text format (labels ignored)."""
    samples = {}
    for name, _labels, value in _samples(text):
        samples.setdefault(name, []).append(value)
    return samples


def parse_series(text, name):
    """``[(labels, value), ...]`` of metric ``name`` in the Prometheus text format."""
    return [({key: re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), val)
              for key, val in _LABEL.findall(labels)}, value)
            for sample, labels, value in _samples(text) if sample == name]
