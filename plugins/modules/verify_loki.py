#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_loki
short_description: Prove that Loki receives labelled pod logs and the apiserver audit log, end to end
version_added: 0.1.0
description:
  - Runs checks against the Loki HTTP API and returns one result per check.
  - C(loki.ready) asks C(/ready).
  - C(loki.retention) (when O(retention) is set) reads the running configuration from C(/config) and expects
    C(limits_config.retention_period) to equal O(retention), the compactor's C(retention_enabled) to be true
    and its C(delete_request_store) to be set; it fails with the values found.
  - C(loki.pod_labels) asks C(/loki/api/v1/series) for the pod log streams of the last O(lookback) seconds
    and expects every one to carry the labels C(namespace), C(pod), C(container) and C(node).
  - C(loki.audit_labels) expects streams C({job="kubernetes-audit"}) (see O(audit_job)) carrying C(level),
    C(verb) and C(user).
  - C(loki.marker) creates a labelled ConfigMap C(verify-marker-<random>) in O(marker_namespace) through the
    Kubernetes API, takes the C(Audit-Id) header of that request and waits up to O(marker_timeout) seconds
    until C(/loki/api/v1/query_range) finds that exact event in the audit stream; then deletes the ConfigMap.
  - C(loki.redaction) (when O(redaction) is on) creates a Secret C(verify-redaction-<random>) with a random
    throwaway value, waits for its audit event in Loki, then expects neither the value nor its base64 form to
    be found in the audit stream; then deletes the Secret.
  - Without O(access), Loki is reached as the Service C(monitoring/loki:3100) through the apiserver's
    service proxy.
author:
  - homelab.observability maintainers (!UNKNOWN)
extends_documentation_fragment:
  - homelab.observability.k8s_auth
  - homelab.observability.service_access
  - homelab.observability.verify_common
options:
  tenant:
    description:
      - Loki tenant sent as C(X-Scope-OrgID), for a multi-tenant Loki.
    type: str
  audit_job:
    description:
      - Value of the C(job) label of the audit stream.
    type: str
    default: kubernetes-audit
  lookback:
    description:
      - Seconds back from now in which the label checks look for streams.
    type: int
    default: 3600
  marker_namespace:
    description:
      - Namespace in which the marker ConfigMap and Secret are created (and deleted again).
    type: str
    default: monitoring
  marker_timeout:
    description:
      - Seconds to wait for a marker's audit event to be queryable in Loki.
    type: float
    default: 60.0
  retention:
    description:
      - Expected C(limits_config.retention_period), as a Loki duration (V(168h), V(7d), V(1w)); compared by
        length, not by spelling. Unset, C(loki.retention) does not run.
    type: str
  redaction:
    description:
      - Whether Secret values are expected to be redacted before they reach Loki (the default of the
        P(homelab.observability.alloy#role) role). When V(false), C(loki.redaction) is reported as skipped.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description:
      - The label checks run; C(loki.marker) and C(loki.redaction) are reported as skipped because they would
        write a ConfigMap and a Secret.
  diff_mode:
    support: none
    description: Nothing is left changed, so there is nothing to show.
notes:
  - The marker objects are created and deleted within the run; the cluster is left as found, so the module
    reports C(changed=false). The audit log keeps the events, as intended.
  - The random Secret value is generated for the check and never printed.
"""

EXAMPLES = r"""
- name: Prove the logs pipeline, including the audit log end to end
  homelab.observability.verify_loki:
    kubeconfig: ~/.kube/config
    marker_timeout: 90

- name: Only the read-only checks
  homelab.observability.verify_loki:
    access: {url: "https://loki.homelab.local"}
    skip:
      loki.marker: no write access from this controller
      loki.redaction: no write access from this controller
"""

RETURN = r"""
checks:
  description: One entry per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Check name, for example C(loki.marker).
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
    - {name: loki.audit_labels, result: failed, duration: 0.02,
       reason: 'Loki has no {job="kubernetes-audit"} stream in the last 3600s: the audit log is not shipped'}
summary:
  description: Counts of passed, failed and skipped checks, their total and the seconds spent.
  returned: always
  type: dict
  sample: {passed: 3, failed: 1, skipped: 0, total: 4, duration: 0.3}
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
from ansible_collections.homelab.observability.plugins.module_utils.probes.loki import LokiClient
from ansible_collections.homelab.observability.plugins.module_utils.verify.args import (
    check_runner,
    exit_with_checks,
    verify_argument_spec,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.loki import AuditProbe, run_loki

DEFAULT_SERVICE = {"namespace": "monitoring", "service": "loki", "port": "3100"}


def argument_spec():
    spec = auth_argument_spec()
    spec.update(verify_argument_spec())
    spec.update(
        access=access_spec(),
        tenant=dict(type="str"),
        audit_job=dict(type="str", default="kubernetes-audit"),
        lookback=dict(type="int", default=3600),
        marker_namespace=dict(type="str", default="monitoring"),
        marker_timeout=dict(type="float", default=60.0),
        redaction=dict(type="bool", default=True),
        retention=dict(type="str"),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    kube = KubeSession(p)
    loki = LokiClient(build_transport(p["access"], DEFAULT_SERVICE, kube), tenant=p["tenant"])
    probe = AuditProbe(loki, lambda: kube.apiserver, p["marker_namespace"], audit_job=p["audit_job"],
                       timeout=p["marker_timeout"])
    runner = check_runner(p)
    run_loki(runner, loki, probe, audit_job=p["audit_job"], lookback=p["lookback"], redaction=p["redaction"],
             retention=p["retention"], check_mode=module.check_mode)
    exit_with_checks(module, runner)


if __name__ == "__main__":
    main()
