#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_alertmanager
short_description: Prove that Alertmanager is ready, has its configuration loaded and receives alerts from Prometheus
version_added: 0.1.0
description:
  - Runs read-only checks and returns one result per check.
  - C(alertmanager.ready) asks C(/-/ready).
  - C(alertmanager.config) asks C(/api/v2/status) for the loaded configuration and C(/metrics) that the last
    reload succeeded (C(alertmanager_config_last_reload_successful)).
  - C(alertmanager.discovered) asks Prometheus' C(/api/v1/alertmanagers) that at least O(min_active)
    Alertmanagers are active (matching O(url_pattern) when given).
  - C(alertmanager.notifications) reads Alertmanager's C(/metrics). No integration may have a
    notification that still failed when its retries gave up (C(alertmanager_notifications_failed_total))
    since Alertmanager started, and each integration in O(expect_notifications) must have had a request
    answered (C(alertmanager_notification_requests_total) minus C(..._requests_failed_total)), waiting up
    to O(wait_timeout) seconds. That proves the path from a firing rule to a receiver that answers.
    Failed requests that Alertmanager is still retrying are reported, not failed.
  - Without O(access), Alertmanager is reached as the kube-prometheus-stack Service
    C(monitoring/kube-prometheus-stack-alertmanager:9093) through the apiserver's service proxy.
author:
  - homelab.observability maintainers (!UNKNOWN)
extends_documentation_fragment:
  - homelab.observability.k8s_auth
  - homelab.observability.service_access
  - homelab.observability.service_access.prometheus_access
  - homelab.observability.verify_common
options:
  url_pattern:
    description:
      - Regular expression an active Alertmanager URL reported by Prometheus must match, for example
        V(:9093/) or the Alertmanager pod network.
    type: str
  min_active:
    description:
      - Fewest active Alertmanagers Prometheus must report.
    type: int
    default: 1
  expect_notifications:
    description:
      - Integrations that must have delivered a notification, named as Alertmanager counts them
        (V(webhook), V(email), V(slack), V(telegram), V(discord), ...), for example the integration of
        a receiver that a rule firing always is routed to.
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - Seconds to wait for the O(expect_notifications) deliveries (a fresh Alertmanager waits
        C(group_wait) before it sends a group).
    type: float
    default: 60.0
attributes:
  check_mode:
    support: full
    description: Every check is read-only; check mode runs them all.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Prove the alerting path
  homelab.observability.verify_alertmanager:
    kubeconfig: ~/.kube/config

- name: Against URLs (for example the lab's local Prometheus and Alertmanager)
  homelab.observability.verify_alertmanager:
    access: {url: "http://127.0.0.1:9093"}
    prometheus_access: {url: "http://127.0.0.1:9090"}
    url_pattern: "127\\.0\\.0\\.1:9093"

- name: Prove that a rule routed to a webhook receiver reached it
  homelab.observability.verify_alertmanager:
    kubeconfig: ~/.kube/config
    expect_notifications: [webhook]
    wait_timeout: 120
"""

RETURN = r"""
checks:
  description: One entry per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Check name, for example C(alertmanager.discovered).
      type: str
    result:
      description: V(passed), V(failed) or V(skipped).
      type: str
    duration:
      description: Seconds the check took.
      type: float
    reason:
      description: Why it failed or was skipped; what was seen when it passed.
      type: str
  sample:
    - {name: alertmanager.ready, result: passed, duration: 0.01, reason: OK}
    - {name: alertmanager.discovered, result: failed, duration: 0.02,
       reason: Prometheus has 0 active Alertmanager(s), expected at least 1}
summary:
  description: Counts of passed, failed and skipped checks, their total and the seconds spent.
  returned: always
  type: dict
  sample: {passed: 2, failed: 1, skipped: 0, total: 3, duration: 0.05}
passed:
  description: True when no check failed.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import auth_argument_spec
from ansible_collections.homelab.observability.plugins.module_utils.probes.args import (
    KubeSession,
    access_spec,
    build_transport,
)
from ansible_collections.homelab.observability.plugins.module_utils.probes.prometheus import (
    AlertmanagerClient,
    PrometheusClient,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.args import (
    check_runner,
    exit_with_checks,
    verify_argument_spec,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.prometheus import run_alertmanager

DEFAULT_SERVICE = {"namespace": "monitoring", "service": "kube-prometheus-stack-alertmanager", "port": "9093"}
DEFAULT_PROMETHEUS = {"namespace": "monitoring", "service": "kube-prometheus-stack-prometheus", "port": "9090"}


def argument_spec():
    spec = auth_argument_spec()
    spec.update(verify_argument_spec())
    spec.update(
        access=access_spec(),
        prometheus_access=access_spec(),
        url_pattern=dict(type="str"),
        min_active=dict(type="int", default=1),
        expect_notifications=dict(type="list", elements="str", default=[]),
        wait_timeout=dict(type="float", default=60.0),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    kube = KubeSession(p)
    am = AlertmanagerClient(build_transport(p["access"], DEFAULT_SERVICE, kube))
    prom = PrometheusClient(build_transport(p["prometheus_access"], DEFAULT_PROMETHEUS, kube))
    runner = check_runner(p)
    run_alertmanager(runner, am, prom, url_pattern=p["url_pattern"], min_active=p["min_active"],
                     expect_notifications=p["expect_notifications"], wait_timeout=p["wait_timeout"])
    exit_with_checks(module, runner)


if __name__ == "__main__":
    main()
