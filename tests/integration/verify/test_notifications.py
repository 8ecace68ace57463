"""alertmanager.notifications against the real Prometheus and Alertmanager (tools/lab/monitoring):
the always-firing Watchdog rule, routed to a webhook receiver on this machine, reaches it; a
receiver that answers 500 fails the check with Alertmanager's own count of failed requests."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.probes.prometheus import AlertmanagerClient
from ansible_collections.homelab.observability.plugins.module_utils.verify.prometheus import run_alertmanager
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckRunner

from tests.fakes.base import StaticServer

from .conftest import _need_binaries, monitoring


@pytest.fixture
def alerting(tmp_path):
    """Start the lab's Prometheus and Alertmanager with the Watchdog routed to ``receiver``."""
    started = []

    def start(receiver):
        _need_binaries()
        stack = monitoring.start(tmp_path / ("monitoring-%d" % len(started)),
                                 alertmanager_webhook_url=receiver.url + "/alerts")
        started.append(tmp_path / ("monitoring-%d" % len(started)))
        return stack

    yield start
    for state in started:
        monitoring.stop(state)


def notifications(stack, direct, **kwargs):
    runner = CheckRunner()
    run_alertmanager(runner, AlertmanagerClient(direct(stack.alertmanager_url)), **kwargs)
    return {c["name"]: (c["result"], c["reason"]) for c in runner.results}["alertmanager.notifications"]


def test_the_watchdog_reaches_the_webhook_receiver(alerting, direct):
    with StaticServer({"/alerts": (200, "", {})}) as receiver:
        stack = alerting(receiver)
        result, reason = notifications(stack, direct, expect_notifications=["webhook"], wait_timeout=60)
        assert result == "passed", reason
        assert reason.startswith("webhook: ") and reason.endswith(" delivered"), reason
        posted = [r.json() for r in receiver.requests if r.method == "POST" and r.path == "/alerts"]
        assert posted, receiver.requests
        assert {a["labels"]["alertname"] for body in posted for a in body["alerts"]} == {"Watchdog"}
        assert posted[0]["receiver"] == "webhook" and posted[0]["status"] == "firing"


def test_a_receiver_that_refuses_fails_the_check(alerting, direct):
    with StaticServer({"/alerts": (500, "down for maintenance\n", {})}) as receiver:
        stack = alerting(receiver)
        result, reason = notifications(stack, direct, expect_notifications=["webhook"], wait_timeout=20)
        assert receiver.requests, "Alertmanager never tried the receiver"
        assert result == "failed"
        assert reason.startswith("no webhook notification delivered in 20s; "), reason
        assert " requests to it failed (Alertmanager retries them" in reason or "1 request to it" in reason


def test_nothing_routed_and_nothing_failed_passes_without_expectations(metrics, direct):
    result, reason = notifications(metrics, direct)
    assert (result, reason) == ("passed", "no notification attempted yet, none failed")
