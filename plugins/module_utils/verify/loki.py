# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks on Loki: readiness, pod log labels, the audit stream, an end-to-end marker, redaction.

Check names: ``loki.ready``, ``loki.retention`` (loki_retention.py), ``loki.pod_labels``,
``loki.audit_labels``, ``loki.marker``, ``loki.redaction``.

The marker check writes: it creates a labelled ConfigMap through the Kubernetes API, reads the
request's ``Audit-Id`` response header, waits until an event carrying that audit ID can be queried
from ``{job="kubernetes-audit"}``, and deletes the ConfigMap. The redaction check creates a
throwaway Secret with a random value the same way, waits for its audit event in Loki (proof that
the event was shipped) and then asserts that neither the value nor its base64 form can be found.
Both writes are skipped in check mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import os
import time

from ansible_collections.homelab.observability.plugins.module_utils.probes import kubeapi
from ansible_collections.homelab.observability.plugins.module_utils.verify.loki_retention import check_retention
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import (
    CheckFailed,
    CheckSkipped,
    poll,
)

POD_LABELS = ("namespace", "pod", "container", "node")
AUDIT_LABELS = ("level", "verb", "user")
MARKER_LABEL = "homelab.observability/verify-marker"
LIST_AT_MOST = 3
POLL_INTERVAL = 0.5


def _ns(seconds):
    return int(seconds * 1e9)


def _fmt(labels):
    return "{%s}" % ", ".join('%s="%s"' % (k, labels[k]) for k in sorted(labels))


def _stream_selector(audit_job):
    return '{job="%s"}' % audit_job


def check_pod_labels(loki, audit_job, lookback, now):
    series = loki.series('{namespace=~".+"}', _ns(now - lookback), _ns(now))
    pods = [s for s in series if s.get("job") != audit_job]
    if not pods:
        raise CheckFailed("Loki has no pod log stream with a namespace label in the last %ds: pod logs are not "
                          "shipped (or not labelled)" % lookback)
    lacking = [(s, [label for label in POD_LABELS if not s.get(label)]) for s in pods]
    lacking = [(s, missing) for s, missing in lacking if missing]
    if lacking:
        raise CheckFailed("%d of %d pod log streams lack labels: %s" % (
            len(lacking), len(pods),
            "; ".join("%s lacks %s" % (_fmt(s), ", ".join(m)) for s, m in lacking[:LIST_AT_MOST])))
    return "%d pod log streams, all labelled %s" % (len(pods), "/".join(POD_LABELS))


def check_audit_labels(loki, audit_job, lookback, now):
    selector = _stream_selector(audit_job)
    series = loki.series(selector, _ns(now - lookback), _ns(now))
    if not series:
        raise CheckFailed("Loki has no %s stream in the last %ds: the audit log is not shipped" % (selector, lookback))
    lacking = [(s, [label for label in AUDIT_LABELS if not s.get(label)]) for s in series]
    lacking = [(s, missing) for s, missing in lacking if missing]
    if lacking:
        raise CheckFailed("%d of %d %s streams lack labels: %s" % (
            len(lacking), len(series), selector,
            "; ".join("%s lacks %s" % (_fmt(s), ", ".join(m)) for s, m in lacking[:LIST_AT_MOST])))
    return "%d audit streams, all labelled %s" % (len(series), "/".join(AUDIT_LABELS))


class AuditProbe:
    """Writes marker objects through the Kubernetes API and looks for their audit events in Loki."""

    def __init__(self, loki, apiserver_fn, namespace, *, audit_job="kubernetes-audit", timeout=60.0,
                 clock=time.monotonic, sleep=time.sleep, wall=time.time):
        self.loki = loki
        self.apiserver_fn = apiserver_fn
        self.namespace = namespace
        self.selector = _stream_selector(audit_job)
        self.timeout = timeout
        self.clock, self.sleep, self.wall = clock, sleep, wall

    def find(self, needle, start):
        query = '%s |= "%s"' % (self.selector, needle)
        return self.loki.query_range(query, _ns(start), _ns(self.wall() + 60), limit=10)

    def wait_for(self, audit_id, start):
        def look():
            streams = self.find(audit_id, start)
            return bool(streams), streams

        # Alloy ships within a second or two; a look costs one small Loki query
        return poll(look, self.timeout, POLL_INTERVAL, self.clock, self.sleep)

    @staticmethod
    def _meta(name, token):
        return {"name": name, "labels": {MARKER_LABEL: token, "app.kubernetes.io/managed-by": "homelab.observability"}}

    def marker(self, check_mode, token=None):
        if check_mode:
            raise CheckSkipped("check mode: the marker ConfigMap was not written, so nothing to look for in Loki")
        apiserver = self.apiserver_fn()
        token = token or binascii.hexlify(os.urandom(6)).decode()
        name = "verify-marker-%s" % token
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": self._meta(name, token), "data": {"marker": token}}
        start, started = self.wall() - 5, self.clock()
        audit_id = kubeapi.create(apiserver, self.namespace, "configmaps", body)[1]
        try:
            if not audit_id:
                raise CheckFailed("the apiserver sent no Audit-Id header for the marker write: is audit logging on?")
            found, streams = self.wait_for(audit_id, start)
        finally:
            kubeapi.delete(apiserver, self.namespace, "configmaps", name)
        if not found:
            raise CheckFailed("the audit event of creating ConfigMap %s/%s (Audit-Id %s) did not reach Loki's %s "
                              "within %ss" % (self.namespace, name, audit_id, self.selector, self.timeout))
        labels = streams[0][0]
        return "ConfigMap %s/%s create event found in Loki after %.1fs (verb=%s, user=%s)" % (
            self.namespace, name, self.clock() - started, labels.get("verb", "?"), labels.get("user", "?"))

    def redaction(self, check_mode, token=None, value=None):
        if check_mode:
            raise CheckSkipped("check mode: the marker Secret was not written, so nothing to look for in Loki")
        apiserver = self.apiserver_fn()
        token = token or binascii.hexlify(os.urandom(6)).decode()
        value = value or "verify-" + binascii.hexlify(os.urandom(16)).decode()  # throwaway, never a real credential
        encoded = base64.b64encode(value.encode()).decode()
        name = "verify-redaction-%s" % token
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": self._meta(name, token),
                "stringData": {"marker": value}}
        start = self.wall() - 5
        audit_id = kubeapi.create(apiserver, self.namespace, "secrets", body)[1]
        try:
            if not audit_id:
                raise CheckFailed("the apiserver sent no Audit-Id header for the marker Secret: is audit logging on?")
            found = self.wait_for(audit_id, start)[0]
            if not found:
                raise CheckFailed("cannot prove redaction: the audit event of creating Secret %s/%s (Audit-Id %s) "
                                  "did not reach Loki within %ss" % (self.namespace, name, audit_id, self.timeout))
            leaks = []
            for form, needle in (("plain", value), ("base64", encoded)):
                hits = self.find(needle, start)
                if hits:
                    leaks.append("%s (%d stream%s)" % (form, len(hits), "" if len(hits) == 1 else "s"))
        finally:
            kubeapi.delete(apiserver, self.namespace, "secrets", name)
        if leaks:
            raise CheckFailed("the value of marker Secret %s/%s appears in Loki's audit stream: %s; redaction is off "
                              "or does not cover Secret bodies" % (self.namespace, name, ", ".join(leaks)))
        return "Secret %s/%s create event shipped; its value is in neither plain nor base64 form" % (
            self.namespace, name)


def run_loki(runner, loki, audit_probe, *, audit_job="kubernetes-audit", lookback=3600, redaction=True,
             retention=None, check_mode=False, wall=time.time):
    runner.run("loki.ready", loki.ready)
    if retention:
        runner.run("loki.retention", check_retention, loki, retention, requires="loki.ready")
    now = wall()
    runner.run("loki.pod_labels", check_pod_labels, loki, audit_job, lookback, now, requires="loki.ready")
    runner.run("loki.audit_labels", check_audit_labels, loki, audit_job, lookback, now, requires="loki.ready")
    runner.run("loki.marker", audit_probe.marker, check_mode, requires="loki.ready")
    if redaction:
        runner.run("loki.redaction", audit_probe.redaction, check_mode, requires="loki.ready")
    else:
        runner.skipped("loki.redaction", "redaction is turned off (opt-out): Secret values reach Loki by design")
    return runner
