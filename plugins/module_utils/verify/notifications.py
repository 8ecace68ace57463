# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``alertmanager.notifications``: alerts leave Alertmanager and reach the receivers.

Alertmanager counts, per integration and since it started, each request to a receiver
(``alertmanager_notification_requests_total``) and each that failed (``..._requests_failed_total``),
and each notification that still failed when its retries gave up (``alertmanager_notifications_failed_total``,
split by ``reason`` in recent versions). A notification that gave up is an alert the owner never
heard of. A request that failed is retried, so on its own it is reported, not failed. An integration
the owner expects to be notified (``expect``) must have had a request answered, which proves the whole
path: a rule fired, Prometheus sent it, a route picked the receiver, the receiver answered.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.homelab.observability.plugins.module_utils.probes.prometheus import parse_series
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed, poll

REQUESTS = "alertmanager_notification_requests_total"
REQUESTS_FAILED = "alertmanager_notification_requests_failed_total"
GAVE_UP = "alertmanager_notifications_failed_total"
_COLUMNS = (REQUESTS, REQUESTS_FAILED, GAVE_UP)


def notification_counts(metrics_text):
    """``{integration: [requests, requests failed, notifications given up]}``, summed over other labels."""
    counts = {}
    for index, metric in enumerate(_COLUMNS):
        for labels, value in parse_series(metrics_text, metric):
            integration = labels.get("integration") or "?"
            counts.setdefault(integration, [0.0, 0.0, 0.0])[index] += value
    return counts


def _answered(counts, integration):
    requests, failed, _gave_up = counts.get(integration, (0.0, 0.0, 0.0))
    return requests - failed


def _retried(counts, integration):
    failed = counts.get(integration, (0.0, 0.0, 0.0))[1]
    return "; %d request%s to it failed (Alertmanager retries them; its log names the error)" % (
        failed, _plural(failed)) if failed else ""


def _plural(count):
    return "" if count == 1 else "s"


def check_notifications(am, expect=(), wait_timeout=0.0, clock=time.monotonic, sleep=time.sleep):
    expect = list(expect or ())

    def look():
        counts = notification_counts(am.metrics_text())
        return all(_answered(counts, i) > 0 for i in expect), counts

    counts = poll(look, wait_timeout if expect else 0, 2.0, clock, sleep)[1]
    _require_none_gave_up(counts)
    _require_delivered(counts, expect, wait_timeout)
    sent = sorted(i for i, row in counts.items() if row[0] > 0)
    if not sent:
        return "no notification attempted yet, none failed"
    return ", ".join(_delivered_text(counts, i) for i in sent)


def _require_none_gave_up(counts):
    gave_up = sorted(i for i, row in counts.items() if row[2] > 0)
    if gave_up:
        raise CheckFailed("%s since Alertmanager started (%s): its log names the receiver and the error" % (
            "; ".join("%s: %d notification%s failed after retrying" % (i, counts[i][2], _plural(counts[i][2]))
                      for i in gave_up), GAVE_UP))


def _require_delivered(counts, expect, wait_timeout):
    silent = [i for i in expect if _answered(counts, i) <= 0]
    if silent:
        raise CheckFailed("no %s notification delivered in %ds%s: is a firing alert routed to a receiver with %s "
                          "(route matchers, group_wait)?" % (
                              ", ".join(silent), wait_timeout, "".join(_retried(counts, i) for i in silent),
                              " or ".join("%s_configs" % i for i in silent)))


def _delivered_text(counts, integration):
    failed = counts[integration][1]
    retried = " after %d failed request%s" % (failed, _plural(failed)) if failed else ""
    return "%s: %d delivered%s" % (integration, _answered(counts, integration), retried)
