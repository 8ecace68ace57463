# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks on Prometheus and Alertmanager: readiness, scrape targets, retention, rules, PromQL.

Check names: ``prometheus.ready``, ``prometheus.targets.<name>``, ``prometheus.retention``,
``prometheus.retention_size``, ``prometheus.rules``, ``prometheus.query.<name>``; ``alertmanager.ready``,
``alertmanager.config``, ``alertmanager.discovered``, ``alertmanager.notifications`` (notifications.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.homelab.observability.plugins.module_utils.verify.notifications import check_notifications
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import (
    CheckFailed,
    poll,
    skip_reason,
)

LIST_AT_MOST = 3
FIRST_SCRAPE_SLACK = 15
_DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_UNIT = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def parse_duration(text):
    """Seconds in a Prometheus duration such as ``15d``, ``360h`` or ``1d12h``; None when malformed."""
    text = (text or "").strip()
    if not text:
        return None
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += int(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    return total if pos == len(text) else None


_BYTES = re.compile(r"^([0-9]*\.?[0-9]+)([KMGTPE]i?)?B$")
_BYTE_UNIT = {None: 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}


def parse_bytes(text):
    """Bytes in a Prometheus size such as ``16GB``, ``16GiB`` or ``512MB``; None when malformed.

    Prometheus reads both ``GB`` and ``GiB`` as powers of 1024 (it shows ``16GB`` as ``16GiB``).
    """
    match = _BYTES.match((text or "").strip())
    if not match:
        return None
    unit = match.group(2)
    return int(float(match.group(1)) * _BYTE_UNIT[unit[0] if unit else None])


def _listed(items, fmt=str):
    items = list(items)
    shown = ", ".join(fmt(item) for item in items[:LIST_AT_MOST])
    return shown + (" and %d more" % (len(items) - LIST_AT_MOST) if len(items) > LIST_AT_MOST else "")


def job_targets(targets, spec):
    wanted = spec.get("match") or {}

    def matches(target):
        labels = target.get("labels") or {}
        return labels.get("job") == spec["job"] and all(labels.get(k) == str(v) for k, v in wanted.items())

    return [t for t in targets if matches(t)]


def _selector(spec):
    labels = dict(spec.get("match") or {})
    labels["job"] = spec["job"]
    return "{%s}" % ", ".join('%s="%s"' % (k, labels[k]) for k in sorted(labels))


def expected_count(spec, nodes):
    if spec.get("per_node"):
        return len(nodes)
    return int(spec.get("min_targets") or 1)


def target_settled(targets, spec, nodes):
    """Worth waiting for: nothing discovered yet, not scraped yet, or fewer than expected."""
    matching = job_targets(targets, spec)
    if any(t.get("health") == "unknown" for t in matching):
        return False
    return len(matching) >= expected_count(spec, nodes)


def first_scrape_grace(targets, specs):
    """Seconds a target discovered but never scraped may take: one scrape interval (exportarr's is 2m,
    longer than the default wait) plus the time Prometheus needs to pick it up after discovery."""
    intervals = [parse_duration(t.get("scrapeInterval") or "") or 0
                 for spec in specs for t in job_targets(targets, spec) if t.get("health") == "unknown"]
    return max(intervals) + FIRST_SCRAPE_SLACK if intervals else 0


def evaluate_job(targets, spec, nodes):
    """The detail when every target of the job is up and enough exist; CheckFailed otherwise."""
    selector = _selector(spec)
    matching = job_targets(targets, spec)
    if not matching:
        jobs = sorted({(t.get("labels") or {}).get("job", "?") for t in targets})
        raise CheckFailed("Prometheus has no active target %s (its scrape config or ServiceMonitor does not "
                          "discover it); jobs present: %s" % (selector, _listed(jobs) or "none"))
    _require_up(matching, selector)
    _require_count(matching, spec, nodes, selector)
    if spec.get("per_node") and spec.get("node_label"):
        missing = _missing_nodes(matching, spec["node_label"], nodes)
        if missing:
            raise CheckFailed("%s has no target on node %s" % (selector, _listed(missing)))
    return "%d/%d targets up" % (len(matching), len(matching))


def _target_text(target):
    where = target.get("scrapeUrl") or (target.get("labels") or {}).get("instance")
    error = ": " + target["lastError"] if target.get("lastError") else ""
    return "%s (%s%s)" % (where, target.get("health"), error)


def _require_up(matching, selector):
    not_up = [t for t in matching if t.get("health") != "up"]
    if not_up:
        raise CheckFailed("%d of %d targets of %s are not up: %s" % (
            len(not_up), len(matching), selector, _listed(not_up, _target_text)))


def _require_count(matching, spec, nodes, selector):
    want = expected_count(spec, nodes)
    if len(matching) >= want:
        return
    if spec.get("per_node"):
        label = spec.get("node_label")
        missing = _missing_nodes(matching, label, nodes) if label else []
        raise CheckFailed("%d targets of %s are up, expected one on each of the %d nodes%s" % (
            len(matching), selector, len(nodes), "; missing on " + _listed(missing) if missing else ""))
    raise CheckFailed("%d targets of %s are up, expected at least %d" % (len(matching), selector, want))


def _missing_nodes(matching, label, nodes):
    """The nodes no target names in its ``label``."""
    seen = {(t.get("labels") or {}).get(label) for t in matching}
    return [n for n in nodes if n not in seen]


def check_retention(prom, expected):
    want = parse_duration(expected)
    if want is None:
        raise CheckFailed("the expected retention %r is not a Prometheus duration (for example 15d)" % expected)
    flags = prom.flags()
    actual = flags.get("storage.tsdb.retention.time") or flags.get("storage.tsdb.retention")
    source = "--storage.tsdb.retention.time"
    # what Prometheus enforces: the flag, its default when unset, or the configuration file's
    # storage.tsdb.retention (Prometheus 3, where the operator puts it), applied on reload
    effective = ((prom.runtime_info() or {}).get("storageRetention") or "").split(" ")[0]
    if parse_duration(actual) in (None, 0):
        actual, source = effective, "effective retention (the flag is unset)"
    elif parse_duration(effective) not in (None, 0) and parse_duration(effective) != parse_duration(actual):
        source = "effective retention (the configuration file's; the flag says %s)" % actual
        actual = effective
    got = parse_duration(actual)
    if got != want:
        raise CheckFailed("%s is %s, expected %s" % (source, actual or "unset", expected))
    return "%s = %s" % (source, actual)


def check_retention_size(prom, expected):
    """--storage.tsdb.retention.size, or what runtimeinfo says is enforced when the configuration file sets it."""
    want = parse_bytes(expected)
    if want is None:
        raise CheckFailed("the expected retention size %r is not a Prometheus size (for example 16GB)" % expected)
    actual = prom.flags().get("storage.tsdb.retention.size") or ""
    source = "--storage.tsdb.retention.size"
    # runtimeinfo: "15d", "16GiB" or "15d or 16GiB"
    enforced = [part for part in ((prom.runtime_info() or {}).get("storageRetention") or "").split(" or ")
                if parse_bytes(part) is not None]
    if enforced and parse_bytes(enforced[0]) != parse_bytes(actual):
        source = "effective retention size (the flag says %s)" % (actual or "nothing")
        actual = enforced[0]
    if parse_bytes(actual) != want:
        raise CheckFailed("%s is %s, expected %s: Prometheus may fill its volume before it deletes old blocks"
                          % (source, actual or "unset", expected))
    return "%s = %s" % (source, actual)


def check_rules(prom, min_groups):
    groups = prom.rule_groups()
    rules = [(g.get("name"), r) for g in groups for r in g.get("rules") or []]
    if len(groups) < min_groups:
        raise CheckFailed("%d rule groups loaded, expected at least %d" % (len(groups), min_groups))
    failing = [(group, r) for group, r in rules if r.get("health") == "err" or r.get("lastError")]
    if failing:
        raise CheckFailed("%d of %d rules fail to evaluate: %s" % (
            len(failing), len(rules),
            _listed(failing, lambda gr: "%s/%s: %s" % (gr[0], gr[1].get("name"), gr[1].get("lastError")))))
    plural = "" if len(groups) == 1 else "s"
    return "%d rule group%s, %d rules, no evaluation errors" % (len(groups), plural, len(rules))


def _result_count(data):
    kind = data.get("resultType")
    result = data.get("result")
    if kind in ("vector", "matrix"):
        return len(result or [])
    if kind == "scalar":
        try:
            return 1 if float(result[1]) != 0 else 0
        except (TypeError, ValueError, IndexError):
            return 0
    return 1 if result else 0


def check_query(prom, spec):
    data = prom.query(spec["expr"])
    count = _result_count(data)
    expect = spec.get("expect") or "non_empty"
    if expect == "non_empty" and count == 0:
        raise CheckFailed("%s returned no series; expected at least one" % spec["expr"])
    if expect == "empty" and count:
        first = (data.get("result") or [{}])[0]
        raise CheckFailed("%s returned %d series; expected none (first: %s)" % (
            spec["expr"], count, first.get("metric", first) if isinstance(first, dict) else first))
    return "%d series" % count


# labels that tell one alert of a name from another, in the order a person looks for them
_ALERT_WHERE = ("namespace", "pod", "job", "instance", "node", "persistentvolumeclaim")


def _alert_text(alert):
    labels = alert.get("labels") or {}
    where = ", ".join("%s=%s" % (k, labels[k]) for k in _ALERT_WHERE if labels.get(k))
    return "%s{%s}" % (labels.get("alertname", "?"), where) if where else labels.get("alertname", "?")


def check_alerts(prom, allowed):
    """No alert firing but the ``allowed`` ones (Watchdog, which fires by design)."""
    alerts = prom.alerts()
    firing = [a for a in alerts if a.get("state") == "firing"
              and (a.get("labels") or {}).get("alertname") not in allowed]
    if firing:
        raise CheckFailed("%d alert%s firing: %s" % (
            len(firing), "" if len(firing) == 1 else "s", _listed(firing, _alert_text)))
    pending = sum(1 for a in alerts if a.get("state") == "pending")
    expected = sorted({(a.get("labels") or {}).get("alertname") for a in alerts if a.get("state") == "firing"})
    return "no alert firing%s; %d pending" % (
        " but %s" % ", ".join(expected) if expected else "", pending)


def run_prometheus(runner, prom, jobs, *, retention=None, retention_size=None, min_rule_groups=1, queries=(),
                   nodes_fn=None, wait_timeout=30.0, allowed_firing_alerts=None, clock=time.monotonic,
                   sleep=time.sleep):
    runner.run("prometheus.ready", prom.ready)
    wanted = [spec for spec in jobs if skip_reason(runner.skip, "prometheus.targets." + spec["name"]) is None]
    state = {"targets": [], "nodes": [], "polled": False, "error": None}

    def one_job(spec):
        # the first target check waits for discovery and first scrapes; the others reuse that look
        if not state["polled"]:
            state["polled"] = True

            def look():
                state["targets"] = prom.active_targets()
                return all(target_settled(state["targets"], s, state["nodes"]) for s in wanted), None

            try:
                if any(s.get("per_node") for s in wanted):
                    state["nodes"] = nodes_fn() if nodes_fn else []
                started = clock()
                if not poll(look, wait_timeout, 1.0, clock, sleep)[0]:
                    more = first_scrape_grace(state["targets"], wanted) - (clock() - started)
                    if more > 0:
                        poll(look, more, 1.0, clock, sleep)
            except Exception as exc:  # every target check reports it
                state["error"] = str(exc)
        if state["error"]:
            raise CheckFailed(state["error"])
        return evaluate_job(state["targets"], spec, state["nodes"])

    for spec in jobs:
        runner.run("prometheus.targets." + spec["name"], one_job, spec, requires="prometheus.ready")
    if retention:
        runner.run("prometheus.retention", check_retention, prom, retention, requires="prometheus.ready")
    if retention_size:
        runner.run("prometheus.retention_size", check_retention_size, prom, retention_size,
                   requires="prometheus.ready")
    if min_rule_groups is not None:
        runner.run("prometheus.rules", check_rules, prom, int(min_rule_groups), requires="prometheus.ready")
    for spec in queries or ():
        runner.run("prometheus.query." + spec["name"], check_query, prom, spec, requires="prometheus.ready")
    if allowed_firing_alerts is not None:
        runner.run("prometheus.alerts", check_alerts, prom, set(allowed_firing_alerts), requires="prometheus.ready")
    return runner


def check_alertmanager_config(am):
    status = am.status()
    original = ((status or {}).get("config") or {}).get("original") or ""
    if not original.strip():
        raise CheckFailed("Alertmanager reports no loaded configuration (/api/v2/status config.original is empty)")
    reload_ok = am.metrics().get("alertmanager_config_last_reload_successful")
    if reload_ok is not None and reload_ok and reload_ok[0] != 1:
        raise CheckFailed("the last configuration reload failed (alertmanager_config_last_reload_successful=0): "
                          "Alertmanager runs an older configuration")
    return "configuration loaded (%d bytes)%s" % (
        len(original), ", last reload successful" if reload_ok else "")


def check_discovered(prom, url_pattern=None, min_active=1):
    data = prom.alertmanagers()
    active = [a.get("url", "") for a in data.get("activeAlertmanagers") or []]
    dropped = [a.get("url", "") for a in data.get("droppedAlertmanagers") or []]
    matching = [u for u in active if not url_pattern or re.search(url_pattern, u)]
    if len(matching) < min_active:
        raise CheckFailed("Prometheus has %d active Alertmanager(s)%s, expected at least %d%s" % (
            len(matching), " matching %r" % url_pattern if url_pattern else "", min_active,
            "; active: %s" % _listed(active) if active else "",
        ) + ("; dropped: %s" % _listed(dropped) if dropped else ""))
    return "Prometheus sends alerts to %s" % _listed(matching)


def run_alertmanager(runner, am, prom=None, *, url_pattern=None, min_active=1, expect_notifications=(),
                     wait_timeout=0.0, clock=time.monotonic, sleep=time.sleep):
    runner.run("alertmanager.ready", am.ready)
    runner.run("alertmanager.config", check_alertmanager_config, am, requires="alertmanager.ready")
    if prom is not None:
        runner.run("alertmanager.discovered", check_discovered, prom, url_pattern, min_active)
    runner.run("alertmanager.notifications", check_notifications, am, expect_notifications, wait_timeout, clock, sleep,
               requires="alertmanager.ready")
    return runner
