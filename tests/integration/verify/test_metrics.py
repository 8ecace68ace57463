"""Prometheus and Alertmanager checks against the real Debian binaries (tools/lab/monitoring):
Prometheus 2.42 scraping a real node-exporter, Alertmanager 0.25 wired to it, and on the lab the
lab's kube-state-metrics and apiserver."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.probes import kubeapi
from ansible_collections.homelab.observability.plugins.module_utils.probes.prometheus import (
    AlertmanagerClient,
    PrometheusClient,
)
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import ServiceProxyTransport
from ansible_collections.homelab.observability.plugins.module_utils.verify.prometheus import (
    run_alertmanager,
    run_prometheus,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckRunner

from .conftest import DOWN_JOB


def results(runner):
    return {c["name"]: (c["result"], c["reason"]) for c in runner.results}


def test_every_check_passes_on_a_healthy_prometheus(metrics, direct):
    runner = CheckRunner()
    run_prometheus(runner, PrometheusClient(direct(metrics.prometheus_url)), [
        {"name": "node-exporter", "job": "node-exporter"},
        {"name": "prometheus", "job": "prometheus"},
        {"name": "alertmanager", "job": "alertmanager"},
    ], retention="15d", min_rule_groups=1, queries=[
        {"name": "node-exporter-up", "expr": 'up{job="node-exporter"} == 1', "expect": "non_empty"},
        {"name": "watchdog-firing", "expr": 'ALERTS{alertname="Watchdog",alertstate="firing"}',
         "expect": "non_empty"},
        {"name": "no-critical", "expr": 'ALERTS{severity="critical"}', "expect": "empty"},
    ], wait_timeout=10)
    assert {c["name"]: c["result"] for c in runner.results} == {
        "prometheus.ready": "passed", "prometheus.targets.node-exporter": "passed",
        "prometheus.targets.prometheus": "passed", "prometheus.targets.alertmanager": "passed",
        "prometheus.retention": "passed", "prometheus.rules": "passed",
        "prometheus.query.node-exporter-up": "passed", "prometheus.query.watchdog-firing": "passed",
        "prometheus.query.no-critical": "passed"}, runner.results


def test_a_target_down_fails_with_the_scrape_error(metrics, direct):
    runner = CheckRunner()
    run_prometheus(runner, PrometheusClient(direct(metrics.prometheus_url)),
                   [{"name": DOWN_JOB, "job": DOWN_JOB}], min_rule_groups=None, wait_timeout=10)
    result, reason = results(runner)["prometheus.targets." + DOWN_JOB]
    assert result == "failed"
    assert reason.startswith('1 of 1 targets of {job="down-exporter"} are not up: http://127.0.0.1:')
    assert "connection refused" in reason


def test_a_wrong_retention_fails_with_both_values(metrics, direct):
    runner = CheckRunner()
    run_prometheus(runner, PrometheusClient(direct(metrics.prometheus_url)), [], retention="30d",
                   min_rule_groups=None)
    assert results(runner)["prometheus.retention"] == ("failed", "--storage.tsdb.retention.time is 15d, expected 30d")


def test_alertmanager_is_ready_configured_and_active_in_prometheus(metrics, direct):
    runner = CheckRunner()
    run_alertmanager(runner, AlertmanagerClient(direct(metrics.alertmanager_url)),
                     PrometheusClient(direct(metrics.prometheus_url)),
                     url_pattern=r"127\.0\.0\.1:%d/" % metrics.ports["alertmanager"])
    assert {c["name"]: c["result"] for c in runner.results} == dict.fromkeys(
        ["alertmanager.ready", "alertmanager.config", "alertmanager.discovered", "alertmanager.notifications"],
        "passed"), runner.results


def test_prometheus_stopped_fails_every_check_with_the_cause(direct):
    from monitoring.stack import free_port  # noqa: PLC0415

    runner = CheckRunner()
    run_prometheus(runner, PrometheusClient(direct("http://127.0.0.1:%d" % free_port())),
                   [{"name": "node-exporter", "job": "node-exporter"}], retention="15d")
    got = results(runner)
    assert got["prometheus.ready"][0] == "failed" and "did not answer" in got["prometheus.ready"][1]
    assert got["prometheus.targets.node-exporter"][1].startswith("not checked: prometheus.ready failed")


@pytest.mark.lab
def test_the_lab_apiserver_metrics_are_scraped(lab_metrics, direct):
    runner = CheckRunner()
    run_prometheus(runner, PrometheusClient(direct(lab_metrics.prometheus_url)), [
        {"name": "apiserver", "job": "apiserver"},
        {"name": "node-exporter", "job": "node-exporter"},
    ], retention="15d", queries=[{"name": "apiserver-requests", "expr": "apiserver_request_total"}], wait_timeout=20)
    assert all(c["result"] == "passed" for c in runner.results), runner.results


@pytest.mark.lab
def test_kube_state_metrics_and_apiserver_of_the_lab_are_scraped(lab, lab_metrics, direct, lab_apiserver):
    if not lab_metrics.kube_state_metrics:
        pytest.skip("kube-state-metrics is not built (%s is missing): make lab-build builds it"
                    % lab.kube_state_metrics)
    nodes = kubeapi.node_names(lab_apiserver)
    runner = CheckRunner()
    run_prometheus(runner, PrometheusClient(direct(lab_metrics.prometheus_url)), [
        {"name": "kube-state-metrics", "job": "kube-state-metrics"},
        {"name": "apiserver", "job": "apiserver"},
        {"name": "node-exporter", "job": "node-exporter"},
    ], retention="15d", queries=[
        # kube-state-metrics reports every node of the lab
        {"name": "ksm-sees-every-node", "expr": "count(kube_node_info) == %d" % len(nodes)},
        {"name": "apiserver-requests", "expr": "apiserver_request_total"},
    ], wait_timeout=20)
    assert all(c["result"] == "passed" for c in runner.results), runner.results


@pytest.mark.lab
def test_the_service_proxy_names_a_missing_service(lab_apiserver):
    """The default access path (the apiserver's service proxy) against the real apiserver: a
    Service that does not exist fails with that reason. (A positive proxy test would need a pod
    the apiserver can dial; the lab's pods are simulated and their IPs must not be dialled.)"""
    proxy = ServiceProxyTransport(lab_apiserver, "default", "verify-no-such-prometheus", "9090")
    runner = CheckRunner()
    run_prometheus(runner, PrometheusClient(proxy), [], min_rule_groups=None)
    result, reason = results(runner)["prometheus.ready"]
    assert result == "failed"
    assert "service default/verify-no-such-prometheus:9090 (via the apiserver proxy) does not exist" in reason


def test_a_rule_that_fails_to_evaluate_fails_the_rules_check(tmp_path, direct):
    """Real Prometheus evaluating a rule that errors at run time (many-to-many matching)."""
    import time  # noqa: PLC0415

    import monitoring  # noqa: PLC0415
    from ansible_collections.homelab.observability.plugins.module_utils.verify.prometheus import (  # noqa: PLC0415
        check_rules,
    )
    from ansible_collections.homelab.observability.plugins.module_utils.verify.result import (  # noqa: PLC0415
        CheckFailed,
    )

    broken = {"name": "broken", "interval": "1s",
              "rules": [{"record": "broken:many_to_many", "expr": "up * on() up"}]}
    stack = monitoring.start(tmp_path / "m", extra_rule_groups=[broken], wait_scraped=True)
    try:
        prom = PrometheusClient(direct(stack.prometheus_url))
        deadline, reason = time.monotonic() + 15, None
        while time.monotonic() < deadline:
            try:
                check_rules(prom, 1)
            except CheckFailed as exc:
                reason = str(exc)
                break
            time.sleep(0.5)
    finally:
        monitoring.stop(tmp_path / "m")
    assert reason is not None, "the rules check never failed"
    assert reason.startswith("1 of 3 rules fail to evaluate: broken/broken:many_to_many: ")
    assert "many-to-many matching not allowed" in reason
