#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: static_pod_flags
short_description: Set command-line flags of a kubeadm static pod, and take them back
version_added: 0.2.0
description:
  - Sets O(flags) in the command (or args) of one container of a static pod manifest (kubeadm's
    C(kube-controller-manager.yaml), C(kube-scheduler.yaml), C(etcd.yaml)), once each; C(--flag value) becomes
    C(--flag=value). The kubelet recreates a static pod whose manifest changed.
  - Edits the manifest item by item and keeps comments and every unrelated byte; the result is parsed again and
    compared with the intended change before it is written. Idempotent.
  - Records each changed flag's previous value (or that it was not there) in the annotation
    C(control-plane.homelab.observability/original-flags). A flag no longer in O(flags), and every flag on
    O(state=absent), gets that value back (or is deleted). Removing kubeadm's C(--bind-address=127.0.0.1) would
    not restore it, the flag's default binds every address.
  - Refuses to work while the manifests directory holds a file the kubelet would run that is not a known manifest,
    and backs the previous manifest up into O(backup_dir), outside the manifests directory.
  - Refuses a C(--bind-address) other than C(0.0.0.0), C(::) or C(127.0.0.1). kubeadm's probes ask the component
    on 127.0.0.1, so the kubelet would restart it forever.
author:
  - homelab.observability maintainers (@homelab-observability)
options:
  path:
    description: The static pod manifest.
    type: path
    required: true
  container_name:
    description: The container whose flags change; unset - the manifest's only container.
    type: str
  flags:
    description:
      - Flags to set, name (with or without C(--)) to value; booleans become C(true)/C(false).
    type: dict
    default: {}
  state:
    description: C(present) sets O(flags); C(absent) puts back every flag this module changed.
    type: str
    choices: [present, absent]
    default: present
  restore_from:
    description:
      - Put this backup (RV(backup_file) of an earlier run) back in place atomically instead of editing, the
        rollback when the component does not come back healthy. O(flags) and O(state) are not used then.
    type: path
  backup_dir:
    description: Where backups go; must be outside the manifests directory.
    type: path
    default: /etc/kubernetes/tmp
  allowed_manifests:
    description: The file names the manifests directory may hold.
    type: list
    elements: str
    default: [etcd.yaml, kube-apiserver.yaml, kube-controller-manager.yaml, kube-scheduler.yaml]
attributes:
  check_mode:
    description: Reports the change and its diff without writing.
    support: full
  diff_mode:
    description: The manifest before and after.
    support: full
"""

EXAMPLES = r"""
- name: Serve kube-scheduler's metrics on every address (its secure port still asks for a token)
  homelab.observability.static_pod_flags:
    path: /etc/kubernetes/manifests/kube-scheduler.yaml
    flags:
      bind-address: 0.0.0.0
  register: scheduler_manifest

- name: Put kubeadm's flags back
  homelab.observability.static_pod_flags:
    path: /etc/kubernetes/manifests/kube-scheduler.yaml
    state: absent
"""

RETURN = r"""
path:
  description: The manifest.
  returned: always
  type: str
flags:
  description: The values the container's flags of O(flags) (and those taken back) have afterwards.
  returned: unless restored
  type: dict
  sample: {"--bind-address": "0.0.0.0"}
backup_file:
  description: The backup of the previous manifest, for O(restore_from).
  returned: when the manifest was written
  type: str
changed_at:
  description: The time (seconds since the epoch) just before the write; a process started after it is the new one.
  returned: always
  type: float
restored_from:
  description: The backup put back.
  returned: with O(restore_from)
  type: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.audit import files
from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf
from ansible_collections.homelab.observability.plugins.module_utils.audit import static_pod_files as spf
from ansible_collections.homelab.observability.plugins.module_utils.audit.module_preflight import require_yaml
from ansible_collections.homelab.observability.plugins.module_utils.control_plane import static_pod_flags as spfl


def argument_spec():
    return dict(
        path=dict(type="path", required=True),
        container_name=dict(type="str"),
        flags=dict(type="dict", default={}),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        restore_from=dict(type="path"),
        backup_dir=dict(type="path", default="/etc/kubernetes/tmp"),
        allowed_manifests=dict(type="list", elements="str", default=list(mf.KUBEADM_MANIFESTS)),
    )


def wanted_flags(module):
    try:
        flags = spfl.normalized(module.params["flags"])
    except spfl.FlagsError as exc:
        module.fail_json(msg="%s; nothing changed" % exc)
    errors = spfl.bind_address_errors(flags)
    if errors:
        module.fail_json(msg="; ".join(errors) + "; nothing changed", errors=errors)
    return flags


def edited(module, before, flags):
    p = module.params
    container = p["container_name"] or os.path.basename(p["path"]).rsplit(".", 1)[0]
    try:
        return container, spfl.edit(before, flags, container_name=container, state=p["state"])
    except spfl.FlagsError as exc:
        module.fail_json(msg="%s: %s; nothing changed" % (p["path"], exc))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_yaml(module, mf.HAS_YAML)
    p = module.params
    path = p["path"]
    if p["restore_from"]:
        spf.restore(module, path, files.read_text(path))
    flags = wanted_flags(module)
    backup_dir = spf.backup_dir_outside(module, os.path.dirname(path), "a second copy of the component")
    spf.refuse_stale_files(module, os.path.dirname(path), "control_plane_metrics_static_pods_allowed")
    before = spf.read_manifest(module, path, "set the role's distribution (k3s and rke2 take a config drop-in)")
    container, after = edited(module, before, flags)
    now = mf.current_flags(after, container)
    touched = set(flags) | set(spfl.recorded(mf.yaml.safe_load(before) or {}))
    result = dict(changed=before != after, path=path, changed_at=time.time(),
                  flags={name: now.get(name) for name in sorted(touched)})
    files.add_diff(module, result, path, before, after)
    if result["changed"] and not module.check_mode:
        spf.write(module, result, after, backup_dir)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
