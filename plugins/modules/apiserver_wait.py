#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: apiserver_wait
short_description: Wait, bounded, for a restarted kube-apiserver to be ready with the new settings
version_added: 0.1.0
description:
  - Polls O(url) (C(/readyz)) until it answers C(ok), within O(timeout) seconds.
  - With O(started_after), the process listening on the URL's port must have started after that time, so the old
    apiserver, still answering while the kubelet has not yet replaced it, does not count. With O(expected_flags),
    that process must also run with those flags.
  - On timeout it fails with the last probe result and the apiserver's last log lines (from O(log_glob)).
  - With O(started_after), it fails at once when an apiserver run logged since then ended on a fatal error
    (C(Error:), C(command failed), a klog C(F) line), the message leading with that line, instead of waiting out
    O(timeout) while the kubelet restarts it in a back-off loop.
  - In check mode it does nothing (nothing was restarted).
author:
  - homelab.observability maintainers (@homelab-observability)
options:
  url:
    description: The readiness endpoint. C(/readyz) is readable without credentials (system:public-info-viewer).
    type: str
    default: https://127.0.0.1:6443/readyz
  ca_cert:
    description:
      - CA bundle for the apiserver's serving certificate (named like the C(k8s) group's option).
    type: path
    default: /etc/kubernetes/pki/ca.crt
    aliases: [ca_path]
  validate_certs:
    description: Verify the serving certificate.
    type: bool
    default: true
  timeout:
    description: Seconds to wait at most.
    type: int
    default: 180
  started_after:
    description: Time of the change (seconds since the epoch, on this host), e.g. RV(homelab.observability.apiserver_manifest#module:changed_at).
    type: float
  expected_flags:
    description: Flags (C(--name) to value) the running apiserver must have.
    type: dict
  ignore_exits_for:
    description:
      - Seconds after O(started_after) in which a fatal exit does not end the wait. After a rollback the broken
        configuration may still be started once more (the kubelet's back-off) and exit just after the rollback;
        that exit is not the restored configuration's.
    type: float
    default: 0
  log_glob:
    description: Where the apiserver's container logs are, for the error message.
    type: path
    default: /var/log/pods/kube-system_kube-apiserver-*/kube-apiserver/*.log
  component:
    description:
      - The name the messages give the process waited for. The wait works the same for any control-plane component
        with a health endpoint on the host (C(kube-controller-manager) C(https://127.0.0.1:10257/healthz),
        C(kube-scheduler) C(https://127.0.0.1:10259/livez), etcd C(http://127.0.0.1:2381/health)); the
        homelab.observability.control_plane_metrics role uses it for them.
    type: str
    default: kube-apiserver
attributes:
  check_mode:
    description: Can run in check_mode; it does not wait then, since nothing was restarted.
    support: full
  diff_mode:
    description: Nothing to diff.
    support: none
"""

EXAMPLES = r"""
- name: Wait for the apiserver that runs the new manifest
  homelab.observability.apiserver_wait:
    started_after: "{{ manifest.changed_at }}"
    expected_flags: "{{ manifest.flags }}"
    timeout: 180
"""

RETURN = r"""
elapsed:
  description: Seconds waited.
  returned: always
  type: float
pid:
  description: The apiserver process that answered.
  returned: when found
  type: int
detail:
  description: The last probe result (C(HTTP 200 ok) on success).
  returned: always
  type: str
log_file:
  description: The apiserver log the error lines come from.
  returned: on failure
  type: str
reason:
  description: "The apiserver's own last fatal log line, e.g. C(Error: unknown flag: --foo)."
  returned: when the new apiserver exited on a fatal error
  type: str
log_tail:
  description: The apiserver's last (error) log lines.
  returned: on failure
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.audit import apiserver_health


def argument_spec():
    return dict(
        url=dict(type="str", default="https://127.0.0.1:6443/readyz"),
        ca_cert=dict(type="path", default="/etc/kubernetes/pki/ca.crt", aliases=["ca_path"]),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="int", default=180),
        started_after=dict(type="float"),
        expected_flags=dict(type="dict"),
        log_glob=dict(type="path", default=apiserver_health.DEFAULT_LOG_GLOB),
        ignore_exits_for=dict(type="float", default=0.0),
        component=dict(type="str", default="kube-apiserver"),
    )


def ca_path(module):
    """The CA bundle to verify with; None when there is none to use (fails when one is needed)."""
    p = module.params
    path = p["ca_cert"] if p["ca_cert"] and os.path.exists(p["ca_cert"]) else None
    if p["validate_certs"] and p["ca_cert"] and path is None:
        module.fail_json(msg="ca_cert %s does not exist; point it at the cluster CA (kubeadm: /etc/kubernetes/pki/ca.crt)"
                             % p["ca_cert"])
    return path


def fail_not_ready(module, res):
    """Fail with the apiserver's own fatal line, or the last probe result and its last log lines."""
    p = module.params
    if res.get("reason"):
        module.fail_json(msg="%s exited after the change: %s (after %ss; log %s)"
                             % (p["component"], res["reason"], res["elapsed"], res["log_file"]), **res)
    log_file, lines = apiserver_health.last_log_lines(p["log_glob"], since=p["started_after"])
    msg = "%s not ready at %s after %ss: %s" % (p["component"], p["url"], res["elapsed"], res["detail"])
    if lines:
        msg += "; its last log lines (%s): %s" % (log_file, " | ".join(lines[-5:]))
    module.fail_json(msg=msg, log_file=log_file, log_tail=lines, **res)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, elapsed=0.0, detail="check mode: nothing was restarted, nothing to wait for")
    if p["timeout"] < 1:
        module.fail_json(msg="timeout=%d: give the apiserver at least a few seconds, e.g. 180" % p["timeout"])
    expected = {k: str(v) for k, v in (p["expected_flags"] or {}).items()}
    res = apiserver_health.wait_ready(p["url"], p["timeout"], ca_path=ca_path(module),
                                      validate_certs=p["validate_certs"], started_after=p["started_after"],
                                      expected_flags=expected, log_glob=p["log_glob"],
                                      ignore_exits_for=p["ignore_exits_for"])
    if not res["ok"]:
        fail_not_ready(module, res)
    module.exit_json(changed=False, **res)


if __name__ == "__main__":
    main()
