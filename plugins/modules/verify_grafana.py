#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_grafana
short_description: Prove that Grafana is healthy, its admin login works, its datasources pass their health check and its dashboards exist
version_added: 0.1.0
description:
  - Runs read-only checks against the Grafana HTTP API and returns one result per check.
  - C(grafana.health) asks C(/api/health) for C(database=ok).
  - C(grafana.login) logs in with C(POST /login) using the admin credentials read from the Secret
    O(admin_secret) (or O(admin_user)/O(admin_password)), and keeps the session cookie for the next checks
    (the apiserver's service proxy does not pass basic auth through).
  - C(grafana.datasource.<name>) finds each datasource of O(datasources) in C(/api/datasources), checks its
    type and default flag, and runs Grafana's own health check C(/api/datasources/uid/<uid>/health).
  - C(grafana.dashboard.<title>) finds each title of O(dashboards) with C(/api/search?type=dash-db).
  - Without O(access), Grafana is reached as the kube-prometheus-stack Service
    C(monitoring/kube-prometheus-stack-grafana:80) through the apiserver's service proxy.
author:
  - homelab.observability maintainers (!UNKNOWN)
extends_documentation_fragment:
  - homelab.observability.k8s_auth
  - homelab.observability.service_access
  - homelab.observability.verify_common
options:
  admin_secret:
    description:
      - The Secret that holds Grafana's admin credentials (C(grafana.admin.existingSecret) of the chart).
      - Ignored when O(admin_password) is set.
    type: dict
    default: {}
    suboptions:
      namespace:
        description: Namespace of the Secret.
        type: str
        default: monitoring
      name:
        description: Name of the Secret.
        type: str
        default: grafana-admin
      user_key:
        description: Key of the user name.
        type: str
        default: admin-user
      password_key:
        description: Key of the password.
        type: str
        default: admin-password
  admin_user:
    description:
      - Admin user name, instead of reading it from O(admin_secret).
    type: str
  admin_password:
    description:
      - Admin password, instead of reading it from O(admin_secret). Never logged.
    type: str
  datasources:
    description:
      - Datasources that must exist and pass Grafana's health check.
    type: list
    elements: dict
    default:
      - {name: Prometheus, type: prometheus, is_default: true}
      - {name: Loki, type: loki, is_default: false}
    suboptions:
      name:
        description: Datasource name (and check name C(grafana.datasource.<name>)).
        type: str
        required: true
      type:
        description: Expected datasource type, for example V(prometheus) or V(loki).
        type: str
      is_default:
        description: Whether it must be the default datasource.
        type: bool
        default: false
  dashboards:
    description:
      - Titles of dashboards that must exist.
    type: list
    elements: str
    default:
      - Cluster Capacity Overview
      - Namespace Resource Breakdown
attributes:
  check_mode:
    support: full
    description: Every check is read-only; check mode runs them all.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Prove Grafana with the admin Secret of the chart
  homelab.observability.verify_grafana:
    kubeconfig: ~/.kube/config

- name: Grafana behind its ingress, with a custom Secret
  homelab.observability.verify_grafana:
    access: {url: "https://grafana.homelab.local"}
    admin_secret: {namespace: monitoring, name: grafana-admin}
    dashboards: [Cluster Capacity Overview]
"""

RETURN = r"""
checks:
  description: One entry per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Check name, for example C(grafana.dashboard.Cluster Capacity Overview).
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
    - {name: grafana.datasource.Loki, result: failed, duration: 0.1,
       reason: "Grafana's health check of datasource 'Loki' failed: Unable to connect with Loki"}
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
from ansible_collections.homelab.observability.plugins.module_utils.probes.grafana import GrafanaClient
from ansible_collections.homelab.observability.plugins.module_utils.probes.kubeapi import secret_values
from ansible_collections.homelab.observability.plugins.module_utils.verify.args import (
    check_runner,
    exit_with_checks,
    verify_argument_spec,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.grafana import run_grafana

DEFAULT_SERVICE = {"namespace": "monitoring", "service": "kube-prometheus-stack-grafana", "port": "80"}


def argument_spec():
    spec = auth_argument_spec()
    spec.update(verify_argument_spec())
    spec.update(
        access=access_spec(),
        admin_secret=dict(type="dict", default={}, no_log=False, options=dict(
            namespace=dict(type="str", default="monitoring"),
            name=dict(type="str", default="grafana-admin"),
            user_key=dict(type="str", default="admin-user", no_log=False),
            password_key=dict(type="str", default="admin-password", no_log=False),
        )),
        admin_user=dict(type="str"),
        admin_password=dict(type="str", no_log=True),
        datasources=dict(type="list", elements="dict", default=[
            {"name": "Prometheus", "type": "prometheus", "is_default": True},
            {"name": "Loki", "type": "loki", "is_default": False},
        ], options=dict(
            name=dict(type="str", required=True),
            type=dict(type="str"),
            is_default=dict(type="bool", default=False),
        )),
        dashboards=dict(type="list", elements="str", default=["Cluster Capacity Overview",
                                                              "Namespace Resource Breakdown"]),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    kube = KubeSession(p)
    grafana = GrafanaClient(build_transport(p["access"], DEFAULT_SERVICE, kube))
    secret = p["admin_secret"] or {}
    secret = dict(dict(namespace="monitoring", name="grafana-admin", user_key="admin-user",
                       password_key="admin-password"), **dict((k, v) for k, v in secret.items() if v))
    if p["admin_password"]:
        source = "the admin_password option"

        def credentials():
            return p["admin_user"] or "admin", p["admin_password"]
    else:
        source = "Secret %s/%s" % (secret["namespace"], secret["name"])

        def credentials():
            user, password = secret_values(kube.apiserver, secret["namespace"], secret["name"],
                                           [secret["user_key"], secret["password_key"]])
            module.no_log_values.add(password)
            return p["admin_user"] or user, password
    runner = check_runner(p)
    run_grafana(runner, grafana, credentials, source, datasources=p["datasources"], dashboards=p["dashboards"])
    exit_with_checks(module, runner)


if __name__ == "__main__":
    main()
