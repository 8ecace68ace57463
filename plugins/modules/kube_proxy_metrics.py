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
  - kube-proxy reads its configuration at start only. The DaemonSet's pod template carries the sha256 of the
    C(config.conf) its pods were started for (the annotation C(control-plane.homelab.observability/config-sha256));
    whenever it differs from the ConfigMap's, the annotation is set, the DaemonSet replaces its pods and, with
    O(wait), the rollout is waited for. So a run that wrote the ConfigMap but failed before kube-proxy restarted
    is finished by the next run. A DaemonSet never stamped is restarted only when this module changed the
    address (not on a cluster that kubeadm already configured).
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
    description: The DaemonSet to restart after a change; empty - none. It must exist; it is read before the
      ConfigMap is written.
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
  description: The DaemonSet's pods were replaced (its config stamp set).
  returned: always
  type: bool
rollout:
  description: The rollout's last state, such as C(3 of 3 pods updated, 3 available).
  returned: when waited for
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.homelab.observability.plugins.module_utils.control_plane import kube_proxy_config as kp
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import auth_argument_spec
from ansible_collections.homelab.observability.plugins.module_utils.kube.client import kube_session
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi, Ref
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter

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


def connect(module):
    session = kube_session(module.params)
    # masked in the result like a no_log option, as the waves and release modules do
    module.no_log_values.update(session.secrets)
    return KubeApi(session)


class Progress:
    """The object the run is at, so that a failure names it, and whether the ConfigMap was written already."""

    def __init__(self, ref):
        self.ref = ref
        self.written = False  # the ConfigMap's new text
        self.wrote = False  # anything

    def message(self, exc):
        note = (" (the ConfigMap holds the new configuration already: the next run restarts kube-proxy)"
                if self.written and self.ref.kind == "DaemonSet" else "")
        return "kube-proxy's %s %s/%s: %s%s" % (self.ref.kind, self.ref.namespace, self.ref.name, exc, note)


def write_configmap(api, ref, configmap, text, annotations):
    """Merge patch guarded by the resourceVersion read: ``text`` ({key: text}) when it changes, the annotations."""
    meta = {"resourceVersion": configmap["metadata"]["resourceVersion"]}
    if annotations:
        meta["annotations"] = annotations
    body = {"metadata": meta}
    if text:
        body["data"] = text
    api.request("PATCH", api.path(ref), body=body, content_type=MERGE)


def read_daemonset(api, ref):
    daemonset = api.get(ref)
    if daemonset is None:
        raise KubeError("not found; set daemonset to kube-proxy's DaemonSet, or to an empty string to restart "
                        "nothing; nothing changed")
    return daemonset


def restart(module, api, ref, text):
    """Stamp the pod template with ``text``'s hash (the DaemonSet replaces its pods) and wait for the rollout."""
    p = module.params
    api.request("PATCH", api.path(ref), body=kp.restart_patch(text), content_type=MERGE)
    result = {"restarted": True}
    if p["wait"]:
        [observed], done = Waiter(api).wait([ref], p["wait_timeout"])
        result["rollout"] = observed.health.message
        if not done:
            module.fail_json(msg="kube-proxy's DaemonSet %s/%s: the rollout did not finish within %ds: %s; `kubectl "
                                 "-n %s rollout status ds/%s` shows why" % (
                                     ref.namespace, ref.name, p["wait_timeout"], result["rollout"], ref.namespace,
                                     ref.name), changed=True, **result)
    return result


def converge(module, api, progress, result):
    p = module.params
    cm_ref = progress.ref
    configmap = api.get(cm_ref)
    if configmap is None:
        raise KubeError("not found; set configmap to the ConfigMap that holds the KubeProxyConfiguration")
    before = (configmap.get("data") or {}).get(p["configmap_key"])
    new_text, annotations = kp.plan(configmap, p["address"], p["state"], p["configmap_key"])
    result.update(changed=new_text != before or bool(annotations),
                  address=kp.parse(new_text, p["configmap_key"]).get(kp.KEY, "") or "")
    if module._diff:
        result["diff"] = dict(before=before, after=new_text, before_header="%s/%s %s" % (
            p["namespace"], p["configmap"], p["configmap_key"]), after_header="%s (new)" % p["configmap_key"])
    ds_ref = Ref("apps/v1", "DaemonSet", p["namespace"], p["daemonset"]) if p["daemonset"] else None
    daemonset = None
    if ds_ref:
        progress.ref = ds_ref
        daemonset = read_daemonset(api, ds_ref)
        progress.ref = cm_ref
    if result["changed"] and not module.check_mode:
        write_configmap(api, cm_ref, configmap, {p["configmap_key"]: new_text} if new_text != before else None,
                        annotations)
        progress.written, progress.wrote = new_text != before, True
    if ds_ref is None:
        return
    after = dict(configmap["metadata"].get("annotations") or {}, **annotations)
    untouched = kp.untouched(before, new_text, {k: v for k, v in after.items() if v is not None}, p["configmap_key"])
    if kp.needs_restart(daemonset, new_text, untouched):
        result["changed"] = True
        progress.ref = ds_ref
        if not module.check_mode:
            progress.wrote = True
            result.update(restart(module, api, ds_ref, new_text))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not kp.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    p = module.params
    progress = Progress(Ref("v1", "ConfigMap", p["namespace"], p["configmap"]))
    result = dict(changed=False, restarted=False)
    try:
        api = connect(module)
    except KubeError as exc:
        module.fail_json(msg=str(exc))
    try:
        converge(module, api, progress, result)
    except kp.ConfigError as exc:
        module.fail_json(msg="%s; nothing changed" % exc)
    except KubeError as exc:
        result["changed"] = progress.wrote
        module.fail_json(msg=progress.message(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
