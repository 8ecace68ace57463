#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kube_proxy_metrics
short_description: Set kube-proxy's metrics address in kubeadm's ConfigMap and restart its DaemonSet
version_added: 0.2.0
description:
  - kubeadm writes C(metricsBindAddress) empty into C(config.conf) of the C(kube-system/kube-proxy) ConfigMap, so
    kube-proxy serves its metrics on 127.0.0.1:10249 only, where no Prometheus pod reaches them. This module sets
    O(address) there, changing only that line, and keeps the previous value in the ConfigMap's annotation
    C(control-plane.homelab.observability/original-metrics-bind-address) for O(state=absent).
  - kube-proxy reads its configuration at start only, so after a change the DaemonSet's pods are replaced (the
    template annotation C(kubectl.kubernetes.io/restartedAt)) and, with O(wait), the rollout is waited for.
  - Idempotent; check mode and diff (the C(config.conf) text) are supported.
author:
  - homelab.observability maintainers (@homelab-observability)
extends_documentation_fragment:
  - homelab.observability.k8s_auth
options:
  address:
    description: The C(host:port) kube-proxy serves its metrics on.
    type: str
    default: 0.0.0.0:10249
  state:
    description: C(present) sets O(address); C(absent) puts back the value recorded before the first change.
    type: str
    choices: [present, absent]
    default: present
  namespace:
    description: Namespace of the ConfigMap and the DaemonSet.
    type: str
    default: kube-system
  configmap:
    description: The ConfigMap that holds the KubeProxyConfiguration.
    type: str
    default: kube-proxy
  configmap_key:
    description: Its key.
    type: str
    default: config.conf
  daemonset:
    description: The DaemonSet to restart after a change; empty - none.
    type: str
    default: kube-proxy
  wait:
    description: Wait until every kube-proxy pod runs the new configuration.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the rollout.
    type: int
    default: 180
attributes:
  check_mode:
    description: Reports the change and its diff without writing or restarting.
    support: full
  diff_mode:
    description: C(config.conf) before and after.
    support: full
"""

EXAMPLES = r"""
- name: Serve kube-proxy's metrics on every node address
  homelab.observability.kube_proxy_metrics:
    kubeconfig: /etc/kubernetes/admin.conf
    address: 0.0.0.0:10249
"""

RETURN = r"""
address:
  description: C(metricsBindAddress) afterwards (empty - kube-proxy's default, 127.0.0.1:10249).
  returned: always
  type: str
restarted:
  description: The DaemonSet's pods were replaced.
  returned: always
  type: bool
rollout:
  description: The rollout's last state, such as C(3 of 3 pods updated, 3 available).
  returned: when waited for
  type: str
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.homelab.observability.plugins.module_utils.control_plane import kube_proxy_config as kp
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import auth_argument_spec
from ansible_collections.homelab.observability.plugins.module_utils.kube.client import kube_api
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError

MERGE = "application/merge-patch+json"


def argument_spec():
    spec = auth_argument_spec()
    spec.update(
        address=dict(type="str", default="0.0.0.0:10249"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        namespace=dict(type="str", default="kube-system"),
        configmap=dict(type="str", default="kube-proxy"),
        configmap_key=dict(type="str", default="config.conf", no_log=False),  # a key's name, not a secret
        daemonset=dict(type="str", default="kube-proxy"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=180),
    )
    return spec


def wait_rollout(api, path, timeout):
    deadline = time.monotonic() + timeout
    while True:
        done, detail = kp.rolled_out(api.request("GET", path))
        if done or time.monotonic() >= deadline:
            return done, detail
        time.sleep(2)


def apply(module, api, configmap, new_text, annotations):
    """Write the ConfigMap (merge patch, guarded by its resourceVersion), then restart and wait for kube-proxy."""
    p = module.params
    meta = {"resourceVersion": configmap["metadata"]["resourceVersion"]}
    if annotations:
        meta["annotations"] = annotations
    api.request("PATCH", "/api/v1/namespaces/%s/configmaps/%s" % (p["namespace"], p["configmap"]),
                body={"metadata": meta, "data": {p["configmap_key"]: new_text}}, content_type=MERGE)
    result = {"restarted": False}
    if not p["daemonset"]:
        return result
    path = "/apis/apps/v1/namespaces/%s/daemonsets/%s" % (p["namespace"], p["daemonset"])
    api.request("PATCH", path, body=kp.restart_patch(), content_type=MERGE)
    result["restarted"] = True
    if p["wait"]:
        done, result["rollout"] = wait_rollout(api, path, p["wait_timeout"])
        if not done:
            module.fail_json(msg="kube-proxy's rollout did not finish within %ds: %s; `kubectl -n %s rollout status "
                                 "ds/%s` shows why" % (p["wait_timeout"], result["rollout"], p["namespace"],
                                                       p["daemonset"]), **result)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not kp.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    p = module.params
    try:
        api = kube_api(p)
        configmap = api.request("GET", "/api/v1/namespaces/%s/configmaps/%s" % (p["namespace"], p["configmap"]))
        before = configmap["data"].get(p["configmap_key"]) if configmap.get("data") else None
        new_text, annotations = kp.plan(configmap, p["address"], p["state"], p["configmap_key"])
        result = dict(changed=new_text != before or bool(annotations), restarted=False,
                      address=kp.parse(new_text, p["configmap_key"]).get(kp.KEY, "") or "")
        if module._diff:
            result["diff"] = dict(before=before, after=new_text, before_header="%s/%s %s" % (
                p["namespace"], p["configmap"], p["configmap_key"]), after_header="%s (new)" % p["configmap_key"])
        if new_text != before and not module.check_mode:
            result.update(apply(module, api, configmap, new_text, annotations))
        elif annotations and not module.check_mode:
            apply_annotations_only(api, p, configmap, annotations)
    except kp.ConfigError as exc:
        module.fail_json(msg="%s; nothing changed" % exc)
    except KubeError as exc:
        module.fail_json(msg="kube-proxy's ConfigMap: %s" % exc)
    module.exit_json(**result)


def apply_annotations_only(api, p, configmap, annotations):
    """Record the original value even when it already is the wanted one, so that absent keeps it."""
    meta = {"resourceVersion": configmap["metadata"]["resourceVersion"], "annotations": annotations}
    api.request("PATCH", "/api/v1/namespaces/%s/configmaps/%s" % (p["namespace"], p["configmap"]),
                body={"metadata": meta}, content_type=MERGE)


if __name__ == "__main__":
    main()
