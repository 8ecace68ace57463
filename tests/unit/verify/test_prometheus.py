"""Prometheus and Alertmanager check logic on answers recorded from the real Debian binaries."""

import copy

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.probes.prometheus import (
    AlertmanagerClient,
    PrometheusClient,
    parse_metrics,
    parse_series,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.prometheus import (
    evaluate_job,
    parse_bytes,
    parse_duration,
    run_alertmanager,
    run_prometheus,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed, CheckRunner

from .conftest import FIXTURES, FakeTransport, fixture_json

TARGETS = fixture_json("prometheus_targets_one_down.json")["data"]["activeTargets"]


def prometheus(fake, targets=None, flags="prometheus_flags_retention_10d.json"):
    fake.set("/-/ready", "Prometheus Server is Ready.\n")
    active = TARGETS if targets is None else targets
    fake.set("/api/v1/targets", {"status": "success", "data": {"activeTargets": active, "droppedTargets": []}})
    fake.set("/api/v1/status/flags", fixture_json(flags))
    fake.set("/api/v1/status/runtimeinfo", fixture_json("prometheus_runtimeinfo.json"))
    fake.set("/api/v1/rules", fixture_json("prometheus_rules.json"))
    fake.set("/api/v1/alertmanagers", fixture_json("prometheus_alertmanagers.json"))
    fake.set("/api/v1/query", lambda params, body, headers: (200, fixture_json(
        "prometheus_query_watchdog.json" if "ALERTS" in params["query"] else "prometheus_query_empty.json"), {}))
    return PrometheusClient(fake)


def results(runner):
    return {c["name"]: (c["result"], c["reason"]) for c in runner.results}


@pytest.mark.parametrize("text,seconds", [
    ("15d", 15 * 86400), ("360h", 15 * 86400), ("1d12h", 36 * 3600), ("2w", 14 * 86400), ("500ms", 0.5),
    ("", None), ("15 days", None), ("d15", None),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_a_target_down_fails_with_prometheus_last_error(fake, clock):
    runner = CheckRunner(clock=clock)
    run_prometheus(runner, prometheus(fake), [
        {"name": "node-exporter", "job": "node-exporter"},
        {"name": "kube-state-metrics", "job": "kube-state-metrics"},
    ], retention=None, min_rule_groups=None, clock=clock, sleep=clock.sleep)
    got = results(runner)
    assert got["prometheus.targets.node-exporter"] == ("passed", "1/1 targets up")
    result, reason = got["prometheus.targets.kube-state-metrics"]
    assert result == "failed"
    assert reason.startswith('1 of 1 targets of {job="kube-state-metrics"} are not up: http://127.0.0.1:')
    assert "connect: connection refused" in reason


def test_a_missing_job_names_the_jobs_present_after_waiting(fake, clock):
    runner = CheckRunner(clock=clock)
    run_prometheus(runner, prometheus(fake), [{"name": "kubelet", "job": "kubelet"}], min_rule_groups=None,
                   wait_timeout=5, clock=clock, sleep=clock.sleep)
    result, reason = results(runner)["prometheus.targets.kubelet"]
    assert result == "failed"
    assert 'no active target {job="kubelet"}' in reason
    assert "jobs present: alertmanager, kube-state-metrics, node-exporter and 1 more" in reason
    assert len([r for r in fake.requests if r[1] == "/api/v1/targets"]) == 6  # once a second for 5 s


def test_targets_not_scraped_yet_are_waited_for(fake, clock):
    unknown = copy.deepcopy(TARGETS)
    for t in unknown:
        t["health"] = "unknown"
    answers = [unknown, unknown, TARGETS]

    def targets(params, body, headers):
        current = answers.pop(0) if len(answers) > 1 else answers[0]
        return 200, {"status": "success", "data": {"activeTargets": current}}, {}

    prom = prometheus(fake)
    fake.set("/api/v1/targets", targets)
    runner = CheckRunner(clock=clock)
    run_prometheus(runner, prom, [{"name": "ne", "job": "node-exporter"}], min_rule_groups=None,
                   clock=clock, sleep=clock.sleep)
    assert results(runner)["prometheus.targets.ne"] == ("passed", "1/1 targets up")
    assert clock.now == 2.0


def test_a_target_not_scraped_yet_gets_one_scrape_interval_beyond_the_wait(fake, clock):
    def targets(params, body, headers):
        target = {"labels": {"job": "exportarr-bazarr"}, "scrapeInterval": "2m", "lastError": "",
                  "scrapeUrl": "http://10.0.0.9:9707/metrics", "health": "up" if clock.now >= 100 else "unknown"}
        return 200, {"status": "success", "data": {"activeTargets": [target]}}, {}

    prom = prometheus(fake)
    fake.set("/api/v1/targets", targets)
    runner = CheckRunner(clock=clock)
    run_prometheus(runner, prom, [{"name": "bazarr", "job": "exportarr-bazarr"}], min_rule_groups=None,
                   wait_timeout=30, clock=clock, sleep=clock.sleep)
    assert results(runner)["prometheus.targets.bazarr"] == ("passed", "1/1 targets up")
    assert 100 <= clock.now < 135

    fake.set("/api/v1/targets", lambda params, body, headers: (200, {"status": "success", "data": {"activeTargets": [
        {"labels": {"job": "exportarr-bazarr"}, "scrapeInterval": "2m", "health": "unknown",
         "scrapeUrl": "http://10.0.0.9:9707/metrics"}]}}, {}))
    clock.now = 0.0
    runner = CheckRunner(clock=clock)
    run_prometheus(runner, prom, [{"name": "bazarr", "job": "exportarr-bazarr"}], min_rule_groups=None,
                   wait_timeout=30, clock=clock, sleep=clock.sleep)
    assert results(runner)["prometheus.targets.bazarr"][0] == "failed"
    assert 135 <= clock.now < 137  # 2m + 15 s, then it gives up


def test_one_target_per_node_names_the_nodes_without_one():
    targets = [{"labels": {"job": "node-exporter", "node": "n1"}, "health": "up"},
               {"labels": {"job": "node-exporter", "node": "n2"}, "health": "up"}]
    spec = {"name": "ne", "job": "node-exporter", "per_node": True, "node_label": "node"}
    assert evaluate_job(targets, spec, ["n1", "n2"]) == "2/2 targets up"
    with pytest.raises(CheckFailed, match=r"2 targets .* expected one on each of the 3 nodes; missing on n3"):
        evaluate_job(targets, spec, ["n1", "n2", "n3"])
    spec_match = {"name": "cadvisor", "job": "node-exporter", "match": {"node": "n2"}}
    assert evaluate_job(targets, spec_match, []) == "1/1 targets up"


@pytest.mark.parametrize(("targets", "spec", "nodes", "message"), [
    ([{"labels": {"job": "loki"}, "health": "up"}], {"name": "ne", "job": "node-exporter"}, [],
     r"no active target .*; jobs present: loki"),
    ([{"labels": {"job": "ne", "instance": "10.0.0.1:9100"}, "health": "down", "lastError": "connection refused"},
      {"labels": {"job": "ne"}, "health": "up", "scrapeUrl": "http://10.0.0.2:9100/metrics"}],
     {"name": "ne", "job": "ne"}, [], r"1 of 2 targets of .* are not up: 10.0.0.1:9100 \(down: connection refused\)"),
    ([{"labels": {"job": "ne"}, "health": "up"}], {"name": "ne", "job": "ne", "min_targets": 2}, [],
     r"1 targets of .* are up, expected at least 2$"),
    ([{"labels": {"job": "ne"}, "health": "up"}], {"name": "ne", "job": "ne", "per_node": True}, ["n1", "n2"],
     r"1 targets of .* are up, expected one on each of the 2 nodes$"),
    ([{"labels": {"job": "ne", "node": "n1"}, "health": "up"}, {"labels": {"job": "ne", "node": "n1"}, "health": "up"}],
     {"name": "ne", "job": "ne", "per_node": True, "node_label": "node"}, ["n1", "n2"], r"has no target on node n2$"),
])
def test_a_job_short_of_up_targets_fails_naming_what_is_missing(targets, spec, nodes, message):
    with pytest.raises(CheckFailed, match=message):
        evaluate_job(targets, spec, nodes)


def test_wrong_retention_fails_with_both_values(fake):
    runner = CheckRunner()
    run_prometheus(runner, prometheus(fake), [], retention="15d", min_rule_groups=None)
    assert results(runner)["prometheus.retention"] == (
        "failed", "--storage.tsdb.retention.time is 10d, expected 15d")
    runner = CheckRunner()
    run_prometheus(runner, prometheus(fake), [], retention="240h", min_rule_groups=None)
    assert results(runner)["prometheus.retention"][0] == "passed"


def test_unset_retention_flag_falls_back_to_the_effective_retention(fake):
    prom = prometheus(fake)
    flags = fixture_json("prometheus_flags_retention_10d.json")
    flags["data"]["storage.tsdb.retention.time"] = "0s"
    fake.set("/api/v1/status/flags", flags)
    runner = CheckRunner()
    run_prometheus(runner, prom, [], retention="15d", min_rule_groups=None)
    assert results(runner)["prometheus.retention"] == (
        "failed", "effective retention (the flag is unset) is 10d, expected 15d")
    runner = CheckRunner()
    run_prometheus(runner, prom, [], retention="10d", min_rule_groups=None)
    assert results(runner)["prometheus.retention"] == ("passed", "effective retention (the flag is unset) = 10d")


def test_a_retention_from_the_configuration_file_wins_over_the_flag(fake):
    """Prometheus 3 takes storage.tsdb.retention from its configuration file (the operator puts it there)
    and applies it on reload; the flag then shows its own value, and runtimeinfo what is enforced."""
    prom = prometheus(fake)
    flags = fixture_json("prometheus_flags_retention_10d.json")
    flags["data"]["storage.tsdb.retention.time"] = "15d"
    fake.set("/api/v1/status/flags", flags)
    info = fixture_json("prometheus_runtimeinfo.json")
    info["data"]["storageRetention"] = "10d or 16GiB"
    fake.set("/api/v1/status/runtimeinfo", info)
    runner = CheckRunner()
    run_prometheus(runner, prom, [], retention="15d", min_rule_groups=None)
    assert results(runner)["prometheus.retention"] == (
        "failed", "effective retention (the configuration file's; the flag says 15d) is 10d, expected 15d")


def test_rules_loaded_and_evaluation_errors_reported(fake):
    prom = prometheus(fake)
    runner = CheckRunner()
    run_prometheus(runner, prom, [], min_rule_groups=1)
    assert results(runner)["prometheus.rules"] == ("passed", "1 rule group, 2 rules, no evaluation errors")
    broken = fixture_json("prometheus_rules.json")
    broken["data"]["groups"][0]["rules"][1].update(health="err", lastError="many-to-many matching not allowed")
    fake.set("/api/v1/rules", broken)
    runner = CheckRunner()
    run_prometheus(runner, prom, [], min_rule_groups=2)
    result, reason = results(runner)["prometheus.rules"]
    assert (result, reason) == ("failed", "1 rule groups loaded, expected at least 2")
    runner = CheckRunner()
    run_prometheus(runner, prom, [], min_rule_groups=1)
    assert results(runner)["prometheus.rules"] == (
        "failed", "1 of 2 rules fail to evaluate: homelab-lab/job:up:sum: many-to-many matching not allowed")


def test_promql_conditions(fake):
    runner = CheckRunner()
    run_prometheus(runner, prometheus(fake), [], min_rule_groups=None, queries=[
        {"name": "watchdog", "expr": "ALERTS", "expect": "non_empty"},
        {"name": "none-firing", "expr": "ALERTS", "expect": "empty"},
        {"name": "absent", "expr": "up == 2", "expect": "non_empty"},
        {"name": "absent-ok", "expr": "up == 2", "expect": "empty"},
    ])
    got = results(runner)
    assert got["prometheus.query.watchdog"] == ("passed", "1 series")
    assert got["prometheus.query.none-firing"][0] == "failed"
    assert "alertname" in got["prometheus.query.none-firing"][1]
    assert got["prometheus.query.absent"] == ("failed", "up == 2 returned no series; expected at least one")
    assert got["prometheus.query.absent-ok"] == ("passed", "0 series")


def test_prometheus_down_fails_every_check_with_the_cause(fake):
    runner = CheckRunner()
    run_prometheus(runner, PrometheusClient(fake), [{"name": "ne", "job": "node-exporter"}], retention="15d")
    got = results(runner)
    assert got["prometheus.ready"] == ("failed", "fake: connection refused (GET /-/ready)")
    assert got["prometheus.targets.ne"][1].startswith("not checked: prometheus.ready failed")
    assert got["prometheus.retention"][0] == "failed"


def alertmanager(fake):
    fake.set("/-/ready", "OK")
    fake.set("/api/v2/status", fixture_json("alertmanager_status.json"))
    fake.set("/metrics", (FIXTURES / "alertmanager_metrics.txt").read_text())
    return AlertmanagerClient(fake)


def test_alertmanager_ready_configured_and_seen_by_prometheus(fake):
    prom_fake = FakeTransport(name="prom")
    runner = CheckRunner()
    run_alertmanager(runner, alertmanager(fake), prometheus(prom_fake))
    got = results(runner)
    assert got["alertmanager.ready"] == ("passed", "OK")
    assert got["alertmanager.config"][0] == "passed"
    assert got["alertmanager.discovered"][0] == "passed"
    runner = CheckRunner()
    run_alertmanager(runner, alertmanager(fake), prometheus(prom_fake), url_pattern=":9093/")
    assert got["alertmanager.discovered"][0] == "passed"
    assert results(runner)["alertmanager.discovered"][1].startswith(
        "Prometheus has 0 active Alertmanager(s) matching ':9093/', expected at least 1; active: http://127.0.0.1:")


def test_alertmanager_failed_reload_and_empty_config(fake):
    am = alertmanager(fake)
    fake.set("/metrics", "alertmanager_config_last_reload_successful 0\n")
    runner = CheckRunner()
    run_alertmanager(runner, am)
    assert "last configuration reload failed" in results(runner)["alertmanager.config"][1]
    fake.set("/api/v2/status", {"config": {"original": ""}})
    runner = CheckRunner()
    run_alertmanager(runner, am)
    assert "no loaded configuration" in results(runner)["alertmanager.config"][1]


def test_parse_metrics_reads_the_text_format():
    samples = parse_metrics((FIXTURES / "alertmanager_metrics.txt").read_text())
    assert samples["alertmanager_config_last_reload_successful"] == [1.0]
    assert parse_metrics('a{x="y z"} 2\n# HELP b\nb 3 1700000000\n') == {"a": [2.0], "b": [3.0]}


def alert(name, state, **labels):
    return {"labels": dict(labels, alertname=name), "annotations": {}, "state": state,
            "activeAt": "2026-12-04T19:00:00Z", "value": "1e+00"}


def test_only_allowed_alerts_may_fire(fake):
    prom = prometheus(fake)
    fake.set("/api/v1/alerts", {"status": "success", "data": {"alerts": [
        alert("Watchdog", "firing", severity="none"),
        alert("NodeClockNotSynchronising", "pending", instance="10.0.0.1:9100"),
    ]}})
    runner = CheckRunner()
    run_prometheus(runner, prom, [], min_rule_groups=None, allowed_firing_alerts=["Watchdog"])
    assert results(runner)["prometheus.alerts"] == ("passed", "no alert firing but Watchdog; 1 pending")

    fake.set("/api/v1/alerts", {"status": "success", "data": {"alerts": [
        alert("Watchdog", "firing"),
        alert("TargetDown", "firing", namespace="monitoring", job="apiserver"),
        alert("KubePodCrashLooping", "firing", namespace="media", pod="sonarr-0"),
    ]}})
    runner = CheckRunner()
    run_prometheus(runner, prom, [], min_rule_groups=None, allowed_firing_alerts=["Watchdog"])
    result, reason = results(runner)["prometheus.alerts"]
    assert result == "failed"
    assert reason.startswith("2 alerts firing: ")
    assert "TargetDown{namespace=monitoring, job=apiserver}" in reason
    assert "KubePodCrashLooping{namespace=media, pod=sonarr-0}" in reason
    assert "Watchdog" not in reason


def test_no_alert_at_all_passes_and_the_check_runs_only_when_asked(fake):
    prom = prometheus(fake)
    fake.set("/api/v1/alerts", {"status": "success", "data": {"alerts": []}})
    runner = CheckRunner()
    run_prometheus(runner, prom, [], min_rule_groups=None, allowed_firing_alerts=[])
    assert results(runner)["prometheus.alerts"] == ("passed", "no alert firing; 0 pending")
    runner = CheckRunner()
    run_prometheus(runner, prom, [], min_rule_groups=None)
    assert "prometheus.alerts" not in results(runner)


def test_alerts_not_checked_when_prometheus_is_down(fake):
    runner = CheckRunner()
    run_prometheus(runner, PrometheusClient(fake), [], min_rule_groups=None, allowed_firing_alerts=["Watchdog"])
    assert results(runner)["prometheus.alerts"][1].startswith("not checked: prometheus.ready failed")


def test_parse_series_keeps_the_labels():
    text = ('# HELP x\nx{integration="webhook",reason="other"} 2\n'
            'x{a="with } and \\"quote\\"", b="line\\nbreak"} 1.5 1700000000\n'
            'x 3\nxy{integration="email"} 9\nx{bad} nan-ish\n')
    assert parse_series(text, "x") == [({"integration": "webhook", "reason": "other"}, 2.0),
                                       ({"a": 'with } and "quote"', "b": "line\nbreak"}, 1.5), ({}, 3.0)]
    fixture = parse_series((FIXTURES / "alertmanager_metrics.txt").read_text(), "alertmanager_notifications_total")
    assert ({"integration": "webhook"}, 0.0) in fixture


def notifications(fake, webhook=(0, 0, 0), email=(0, 0, 0)):
    """Alertmanager's counters per integration: (requests, requests failed, notifications given up)."""
    lines = []
    for integration, (requests, failed, gave_up) in (("webhook", webhook), ("email", email)):
        lines.append('alertmanager_notification_requests_total{integration="%s"} %d' % (integration, requests))
        lines.append('alertmanager_notification_requests_failed_total{integration="%s"} %d' % (integration, failed))
        # recent Alertmanagers split the notifications given up by reason
        lines.append('alertmanager_notifications_failed_total{integration="%s",reason="other"} %d'
                     % (integration, gave_up - gave_up // 2))
        lines.append('alertmanager_notifications_failed_total{integration="%s",reason="clientError"} %d'
                     % (integration, gave_up // 2))
    fake.set("/metrics", "\n".join(lines) + "\n")


def test_notifications_delivered_retried_given_up_or_never_sent(fake):
    am = alertmanager(fake)
    runner = CheckRunner()
    run_alertmanager(runner, am)
    assert results(runner)["alertmanager.notifications"] == ("passed", "no notification attempted yet, none failed")

    notifications(fake, webhook=(4, 0, 0))
    runner = CheckRunner()
    run_alertmanager(runner, am, expect_notifications=["webhook"])
    assert results(runner)["alertmanager.notifications"] == ("passed", "webhook: 4 delivered")

    notifications(fake, webhook=(5, 2, 0))
    runner = CheckRunner()
    run_alertmanager(runner, am, expect_notifications=["webhook"])
    assert results(runner)["alertmanager.notifications"] == ("passed", "webhook: 3 delivered after 2 failed requests")

    notifications(fake, webhook=(9, 6, 3))
    runner = CheckRunner()
    run_alertmanager(runner, am)
    assert results(runner)["alertmanager.notifications"] == ("failed", (
        "webhook: 3 notifications failed after retrying since Alertmanager started "
        "(alertmanager_notifications_failed_total): its log names the receiver and the error"))


def test_an_expected_integration_that_never_delivers_fails_after_waiting(fake, clock):
    am = alertmanager(fake)
    notifications(fake, webhook=(3, 3, 0), email=(2, 0, 0))
    runner = CheckRunner()
    run_alertmanager(runner, am, expect_notifications=["webhook"], wait_timeout=30, clock=clock, sleep=clock.sleep)
    assert results(runner)["alertmanager.notifications"] == ("failed", (
        "no webhook notification delivered in 30s; 3 requests to it failed (Alertmanager retries them; its log "
        "names the error): is a firing alert routed to a receiver with webhook_configs (route matchers, group_wait)?"))
    assert clock() >= 30


def test_retention_size_compares_bytes_as_prometheus_reads_them(fake):
    """The operator passes retentionSize 16GB; Prometheus shows it as 16GiB (both are powers of 1024)."""
    prom = prometheus(fake)
    flags = fixture_json("prometheus_flags_retention_10d.json")
    flags["data"]["storage.tsdb.retention.size"] = "16GiB"
    fake.set("/api/v1/status/flags", flags)
    runner = CheckRunner()
    run_prometheus(runner, prom, [], retention_size="16GB", min_rule_groups=None)
    assert results(runner)["prometheus.retention_size"] == ("passed", "--storage.tsdb.retention.size = 16GiB")
    runner = CheckRunner()
    run_prometheus(runner, prom, [], retention_size="20GB", min_rule_groups=None)
    assert results(runner)["prometheus.retention_size"] == (
        "failed", "--storage.tsdb.retention.size is 16GiB, expected 20GB: Prometheus may fill its volume before "
        "it deletes old blocks")


def test_no_retention_size_fails(fake):
    runner = CheckRunner()
    run_prometheus(runner, prometheus(fake), [], retention_size="16GB", min_rule_groups=None)
    assert results(runner)["prometheus.retention_size"][0] == "failed"
    assert "is 0B, expected 16GB" in results(runner)["prometheus.retention_size"][1]


def test_the_enforced_retention_size_wins_over_the_flag(fake):
    prom = prometheus(fake)
    info = fixture_json("prometheus_runtimeinfo.json")
    info["data"]["storageRetention"] = "15d or 16GiB"
    fake.set("/api/v1/status/runtimeinfo", info)
    runner = CheckRunner()
    run_prometheus(runner, prom, [], retention_size="16GB", min_rule_groups=None)
    assert results(runner)["prometheus.retention_size"] == (
        "passed", "effective retention size (the flag says 0B) = 16GiB")


def test_sizes_are_read_as_prometheus_reads_them():
    assert parse_bytes("16GB") == parse_bytes("16GiB") == 16 << 30
    assert parse_bytes("1.5GB") == 3 << 29 and parse_bytes("0B") == 0 and parse_bytes("512MB") == 512 << 20
    assert parse_bytes("16 gigabytes") is None and parse_bytes("16G") is None


def test_a_malformed_expected_size_is_named(fake):
    runner = CheckRunner()
    run_prometheus(runner, prometheus(fake), [], retention_size="16G", min_rule_groups=None)
    assert results(runner)["prometheus.retention_size"] == (
        "failed", "the expected retention size '16G' is not a Prometheus size (for example 16GB)")
