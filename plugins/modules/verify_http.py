#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_http
short_description: Prove that HTTP services (Uptime Kuma, Exportarr, ...) are reachable and serving
version_added: 0.1.0
description:
  - For each entry of O(endpoints), sends C(GET <path>) through the apiserver's service proxy (or to a URL) and
    expects one of the listed statuses and, optionally, a body matching a regular expression.
  - Check names are C(http.<name>).
author:
  - homelab.observability maintainers (!UNKNOWN)
extends_documentation_fragment:
  - homelab.observability.k8s_auth
  - homelab.observability.verify_common
options:
  endpoints:
    description:
      - The endpoints to check.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the check (C(http.<name>)).
        type: str
        required: true
      url:
        description: Base URL; when set, the service options are ignored.
        type: str
      namespace:
        description: Namespace of the Service reached through the service proxy.
        type: str
      service:
        description: Name of the Service.
        type: str
      port:
        description: Port name or number of the Service.
        type: str
      scheme:
        description: Scheme the apiserver uses towards the Service.
        type: str
        choices: [http, https]
        default: http
      path:
        description: Path to request.
        type: str
        default: /
      status:
        description: HTTP statuses that count as serving.
        type: list
        elements: int
        default: [200]
      contains:
        description: Regular expression the body must match, for example V(sonarr_) for Exportarr's metrics.
        type: str
      validate_certs:
        description: Verify the TLS certificate of O(endpoints[].url).
        type: bool
        default: true
      ca_cert:
        description: CA bundle for O(endpoints[].url).
        type: path
      timeout:
        description: Seconds to wait for the answer.
        type: float
        default: 10.0
attributes:
  check_mode:
    support: full
    description: Every check is read-only; check mode runs them all.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Uptime Kuma and one Exportarr
  homelab.observability.verify_http:
    kubeconfig: ~/.kube/config
    endpoints:
      - {name: uptime-kuma, namespace: monitoring, service: uptime-kuma, port: "3001", status: [200, 302]}
      - {name: exportarr-sonarr, namespace: arr, service: exportarr-sonarr, port: metrics, path: /metrics,
         contains: "sonarr_"}
"""

RETURN = r"""
checks:
  description: One entry per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Check name, for example C(http.uptime-kuma).
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
    - {name: http.uptime-kuma, result: passed, duration: 0.03, reason: HTTP 302}
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
    ACCESS_OPTIONS,
    KubeSession,
    build_transport,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.args import (
    check_runner,
    exit_with_checks,
    verify_argument_spec,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.http import run_http


def argument_spec():
    spec = auth_argument_spec()
    spec.update(verify_argument_spec())
    # each endpoint takes the access options (url, or namespace/service/port, ...) plus what to expect
    options = {name: dict(opt) for name, opt in ACCESS_OPTIONS.items()}
    options.update(
        name=dict(type="str", required=True),
        path=dict(type="str", default="/"),
        status=dict(type="list", elements="int", default=[200]),
        contains=dict(type="str"),
    )
    spec.update(endpoints=dict(type="list", elements="dict", required=True, options=options))
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    for ep in p["endpoints"]:
        if not ep.get("url") and not (ep.get("namespace") and ep.get("service") and ep.get("port")):
            module.fail_json(msg="endpoint %r needs url, or namespace, service and port (the service proxy path)"
                                 % ep["name"])
    kube = KubeSession(p)
    endpoints = []
    for ep in p["endpoints"]:
        access = dict((k, ep.get(k)) for k in ACCESS_OPTIONS)
        endpoints.append(dict(ep, transport=build_transport(access, access, kube)))
    runner = check_runner(p)
    run_http(runner, endpoints)
    exit_with_checks(module, runner)


if __name__ == "__main__":
    main()
