"""alertmanager.notifications on Alertmanager's notification counters (text exposition format)."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.verify.notifications import check_notifications
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed


class Alertmanager:
    def __init__(self, text):
        self.text = text

    def metrics_text(self):
        return self.text


def metrics(**rows):
    """rows: integration=(requests, requests failed, notifications given up)."""
    lines = []
    for integration, (requests, failed, gave_up) in rows.items():
        lines.append('alertmanager_notification_requests_total{integration="%s"} %d' % (integration, requests))
        lines.append('alertmanager_notification_requests_failed_total{integration="%s"} %d' % (integration, failed))
        lines.append('alertmanager_notifications_failed_total{integration="%s",reason="other"} %d'
                     % (integration, gave_up))
    return Alertmanager("\n".join(lines) + "\n")


def test_nothing_sent_yet_passes():
    assert check_notifications(metrics(webhook=(0, 0, 0))) == "no notification attempted yet, none failed"


def test_delivered_notifications_are_counted_with_the_retried_requests():
    assert check_notifications(metrics(webhook=(3, 1, 0), email=(0, 0, 0)), expect=["webhook"]) == \
        "webhook: 2 delivered after 1 failed request"


def test_a_notification_given_up_fails():
    with pytest.raises(CheckFailed, match=r"^email: 2 notifications failed after retrying since Alertmanager"):
        check_notifications(metrics(webhook=(3, 0, 0), email=(2, 2, 2)))


def test_an_expected_integration_without_a_delivery_fails_after_the_wait():
    clock = [0.0]
    with pytest.raises(CheckFailed, match=r"no email notification delivered in 10s; 1 request to it failed .* "
                                          r"with email_configs"):
        check_notifications(metrics(webhook=(3, 0, 0), email=(1, 1, 0)), expect=["email"], wait_timeout=10,
                            clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    assert clock[0] >= 10
