#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_prometheus
short_description: Prove that Prometheus is ready, scrapes every expected target and keeps the configured retention
version_added: 0.1.0
description:
  - Runs read-only checks against the Prometheus HTTP API and returns one result per check.
  - C(prometheus.ready) asks C(/-/ready).
  - C(prometheus.targets.<name>) asks C(/api/v1/targets) for each entry of O(jobs) that every active
    target of the job is up and that enough exist (one per node with O(jobs[].per_node)). Targets not
    scraped yet (health C(unknown)) or not discovered yet are waited for up to O(wait_timeout) seconds;
    a target that is down fails at once, with Prometheus' last scrape error.
  - C(prometheus.retention) compares C(--storage.tsdb.retention.time) from C(/api/v1/status/flags) with
    O(retention) as durations (V(360h) equals V(15d)).
  - C(prometheus.rules) asks C(/api/v1/rules) that at least O(min_rule_groups) groups are loaded and no
    rule has an evaluation error.
  - C(prometheus.query.<name>) evaluates each PromQL condition of O(queries).
  - C(prometheus.alerts) asks C(/api/v1/alerts) that no alert is firing but those named in
    O(allowed_firing_alerts); it runs only when that option is set. Pending alerts are counted, not failed.
  - Without O(access), Prometheus is reached as the kube-prometheus-stack Service
    C(monitoring/kube-prometheus-stack-prometheus:9090) through the apiserver's service proxy.
author:
  - homelab.observability maintainers (!UNKNOWN)
extends_documentation_fragment:
  - homelab.observability.k8s_auth
  - homelab.observability.service_access
  - homelab.observability.verify_common
options:
  jobs:
    description:
      - Scrape jobs that must have all their targets up.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name of the check (C(prometheus.targets.<name>)).
        type: str
        required: true
      job:
        description:
          - Value of the C(job) label of the targets.
        type: str
        required: true
      match:
        description:
          - "Further labels the targets must carry, for example C({metrics_path: /metrics/cadvisor})
            to tell cAdvisor from the kubelet in the C(kubelet) job."
        type: dict
      min_targets:
        description:
          - Fewest targets expected, unless O(jobs[].per_node) is set.
        type: int
        default: 1
      per_node:
        description:
          - Expect one target per Node of the cluster (listed through the Kubernetes API, see
            O(node_selector)), as for a DaemonSet such as node-exporter.
        type: bool
        default: false
      node_label:
        description:
          - Target label that holds the node name; when set, each node must appear in it.
        type: str
  node_selector:
    description:
      - Label selector for the Nodes counted by O(jobs[].per_node).
    type: str
  retention:
    description:
      - Expected retention time, a Prometheus duration such as V(15d). Not checked when unset.
    type: str
  retention_size:
    description:
      - Expected retention size (C(--storage.tsdb.retention.size)), a Prometheus size such as V(16GB); Prometheus
        reads V(GB) and V(GiB) alike, as powers of 1024. Checked as C(prometheus.retention_size); not checked when
        unset.
    type: str
  min_rule_groups:
    description:
      - Fewest rule groups that must be loaded.
    type: int
    default: 1
  queries:
    description:
      - PromQL conditions. A condition holds when the instant query returns at least one series
        (O(queries[].expect=non_empty)) or none (O(queries[].expect=empty)); a scalar counts as a series when not 0.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name of the check (C(prometheus.query.<name>)).
        type: str
        required: true
      expr:
        description:
          - The PromQL expression, for example V(up{job="node-exporter"} == 1).
        type: str
        required: true
      expect:
        description:
          - Whether the result must have series or none.
        type: str
        choices: [non_empty, empty]
        default: non_empty
  wait_timeout:
    description:
      - Seconds to wait for targets that are not discovered or not scraped yet. A target discovered but never
        scraped is given at least its scrape interval plus 15 seconds (a 2m interval outlasts the default).
    type: float
    default: 30.0
  allowed_firing_alerts:
    description:
      - Names of the alerts that may fire, such as V(Watchdog), which fires always to prove the alert
        pipeline. When set, any other firing alert fails C(prometheus.alerts) with its name and labels.
      - Unset, the check does not run.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    description: Every check is read-only; check mode runs them all.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Prove the metrics pipeline
  homelab.observability.verify_prometheus:
    kubeconfig: ~/.kube/config
    retention: 15d
    retention_size: 16GB
    jobs:
      - {name: node-exporter, job: node-exporter, per_node: true}
      - {name: kube-state-metrics, job: kube-state-metrics}
      - {name: kubelet, job: kubelet, match: {metrics_path: /metrics}, per_node: true}
      - {name: cadvisor, job: kubelet, match: {metrics_path: /metrics/cadvisor}, per_node: true}
    queries:
      - {name: no-firing-critical, expr: 'ALERTS{alertstate="firing",severity="critical"}', expect: empty}
    allowed_firing_alerts: [Watchdog, InfoInhibitor]

- name: Same checks against a Prometheus reached by URL, collecting results instead of failing
  homelab.observability.verify_prometheus:
    access:
      url: https://prometheus.homelab.local
      ca_cert: /etc/ssl/homelab-ca.pem
    jobs:
      - {name: node-exporter, job: node-exporter, min_targets: 3}
    skip:
      prometheus.rules: no rules are deployed on this site
    fail_on_failure: false
  register: prometheus_checks
"""

RETURN = r"""
checks:
  description: One entry per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Check name, for example C(prometheus.targets.node-exporter).
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
    - {name: prometheus.ready, result: passed, duration: 0.01, reason: Prometheus Server is Ready.}
    - {name: prometheus.targets.node-exporter, result: failed, duration: 0.02,
       reason: '1 of 3 targets of {job="node-exporter"} are not up: http://10.0.0.3:9100/metrics (down: connection refused)'}
summary:
  description: Counts of passed, failed and skipped checks, their total and the seconds spent.
  returned: always
  type: dict
  sample: {passed: 5, failed: 1, skipped: 0, total: 6, duration: 0.4}
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
from ansible_collections.homelab.observability.plugins.module_utils.probes.kubeapi import node_names
from ansible_collections.homelab.observability.plugins.module_utils.probes.prometheus import PrometheusClient
from ansible_collections.homelab.observability.plugins.module_utils.verify.args import (
    check_runner,
    exit_with_checks,
    verify_argument_spec,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.prometheus import run_prometheus

DEFAULT_SERVICE = {"namespace": "monitoring", "service": "kube-prometheus-stack-prometheus", "port": "9090"}


def argument_spec():
    spec = auth_argument_spec()
    spec.update(verify_argument_spec())
    spec.update(
        access=access_spec(),
        jobs=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            job=dict(type="str", required=True),
            match=dict(type="dict"),
            min_targets=dict(type="int", default=1),
            per_node=dict(type="bool", default=False),
            node_label=dict(type="str"),
        )),
        node_selector=dict(type="str"),
        retention=dict(type="str"),
        retention_size=dict(type="str"),
        min_rule_groups=dict(type="int", default=1),
        queries=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            expr=dict(type="str", required=True),
            expect=dict(type="str", choices=["non_empty", "empty"], default="non_empty"),
        )),
        wait_timeout=dict(type="float", default=30.0),
        allowed_firing_alerts=dict(type="list", elements="str"),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    kube = KubeSession(p)
    prom = PrometheusClient(build_transport(p["access"], DEFAULT_SERVICE, kube))
    runner = check_runner(p)
    run_prometheus(
        runner, prom, p["jobs"], retention=p["retention"], retention_size=p["retention_size"],
        min_rule_groups=p["min_rule_groups"],
        queries=p["queries"], nodes_fn=lambda: node_names(kube.apiserver, p["node_selector"]),
        wait_timeout=p["wait_timeout"], allowed_firing_alerts=p["allowed_firing_alerts"],
    )
    exit_with_checks(module, runner)


if __name__ == "__main__":
    main()
