#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: apiserver_manifest
short_description: Enable audit logging in a kubeadm kube-apiserver static pod manifest
version_added: 0.1.0
description:
  - Sets the C(--audit-*) flags of the kube-apiserver container, adds the hostPath volumes and mounts for the
    policy (C(File), read-only) and the log directory (C(DirectoryOrCreate)), and stamps the policy's checksum
    into an annotation, so that a policy-only change also makes the kubelet recreate the static pod.
  - Edits the manifest structurally, item by item, and keeps comments and every unrelated byte. Flags already
    present are replaced, never duplicated; volumes and mounts are added once. Idempotent.
  - Refuses to work while the manifests directory holds a file the kubelet would run that is not a known manifest
    (a backup such as C(kube-apiserver.yaml.bak), an editor file), because that file is a second apiserver.
  - Backs the previous manifest up into O(backup_dir), outside the manifests directory.
  - In check mode (a plan, usually before the policy is written) a missing policy file is a warning; outside check
    mode it stops the module, changing nothing.
author:
  - homelab.observability maintainers (@homelab-observability)
extends_documentation_fragment:
  - homelab.observability.audit_log
options:
  path:
    description: The kube-apiserver static pod manifest.
    type: path
    default: /etc/kubernetes/manifests/kube-apiserver.yaml
  state:
    description: V(present) configures audit logging; V(absent) removes the flags, volumes and annotation it manages.
    type: str
    choices: [present, absent]
    default: present
  policy_sha256:
    description:
      - Checksum of the policy file (RV(homelab.observability.audit_policy#module:sha256)), written into the
        annotation C(audit.homelab.observability/policy-sha256). The kubelet recreates a static pod whose
        manifest changed, so this is how a policy-only change restarts the apiserver on kubeadm.
      - Unset leaves the annotation as it is.
    type: str
  restore_from:
    description:
      - Put this backup (RV(backup_file) of an earlier run) back in place atomically instead of editing. The role's
        rollback uses it when the apiserver does not come back healthy.
    type: path
  restart:
    description:
      - Restart the apiserver although nothing else changed, by writing the current time into the annotation
        C(audit.homelab.observability/restarted-at) (what C(kubectl rollout restart) does for a Deployment). Not
        idempotent by design; the role's C(Restart kube-apiserver) handler uses it.
    type: bool
    default: false
  backup_dir:
    description:
      - Where the previous manifest is copied before a change (created 0700). Never inside the manifests directory.
    type: path
    default: /etc/kubernetes/tmp
  allowed_manifests:
    description:
      - File names that may be in the manifests directory. Any other name that does not start with a dot stops the
        module before it changes anything.
    type: list
    elements: str
    default: [etcd.yaml, kube-apiserver.yaml, kube-controller-manager.yaml, kube-scheduler.yaml]
  container_name:
    description: Name of the apiserver container in the pod.
    type: str
    default: kube-apiserver
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
requirements:
  - PyYAML on the managed host (python3-yaml).
notes:
  - C(kubeadm upgrade) regenerates the manifest; carry the same flags and volumes in the kubeadm-config
    ClusterConfiguration (C(apiServer.extraArgs), C(apiServer.extraVolumes)) or run the role after an upgrade.
seealso:
  - module: homelab.observability.audit_policy
  - module: homelab.observability.apiserver_wait
"""

EXAMPLES = r"""
- name: Write the policy
  homelab.observability.audit_policy:
    backup_dir: /etc/kubernetes/tmp
  register: policy

- name: Enable audit logging with the CIS rotation values
  homelab.observability.apiserver_manifest:
    policy_sha256: "{{ policy.sha256 }}"
    log_maxage: 30
    log_maxbackup: 10
    log_maxsize: 100
  register: manifest
"""

RETURN = r"""
path:
  description: The manifest.
  returned: always
  type: str
backup_file:
  description: Copy of the previous manifest in O(backup_dir).
  returned: when the manifest changed (not in check mode)
  type: str
flags:
  description: The audit flags the apiserver runs with after this change.
  returned: always
  type: dict
  sample: {"--audit-log-maxbackup": "3", "--audit-log-path": "/var/log/kubernetes/audit/audit.log"}
changed_at:
  description: Time of the write on the host (seconds since the epoch); an apiserver started before it is stale.
  returned: always
  type: float
disk:
  description: The free-disk preflight (path, free, required, existing bytes, message).
  returned: when the check ran
  type: dict
removed_flags:
  description: Flags the role had set (its annotation C(audit.homelab.observability/flags)) that this run removes.
  returned: unless restoring
  type: list
  elements: str
restored_from:
  description: The backup that was put back.
  returned: with O(restore_from)
  type: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.audit import files
from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf
from ansible_collections.homelab.observability.plugins.module_utils.audit import static_pod_files as spf
from ansible_collections.homelab.observability.plugins.module_utils.audit.args import (
    audit_flags_from,
    audit_log_argument_spec,
)
from ansible_collections.homelab.observability.plugins.module_utils.audit.module_preflight import (
    check_audit_log,
    check_free_disk,
    require_yaml,
)


def argument_spec():
    spec = audit_log_argument_spec()
    spec.update(
        path=dict(type="path", default="/etc/kubernetes/manifests/kube-apiserver.yaml"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        policy_sha256=dict(type="str"),
        restart=dict(type="bool", default=False),
        restore_from=dict(type="path"),
        backup_dir=dict(type="path", default="/etc/kubernetes/tmp"),
        allowed_manifests=dict(type="list", elements="str", default=list(mf.KUBEADM_MANIFESTS)),
        container_name=dict(type="str", default="kube-apiserver"),
    )
    return spec


def wanted_annotation(p):
    """The annotation that restarts the apiserver: the restart time, or the policy's checksum."""
    if p["restart"]:
        now = time.time()
        return mf.RESTART_ANNOTATION, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%06dZ" % int(
            (now % 1) * 1e6)
    if p["policy_sha256"] and p["state"] == "present":
        return mf.POLICY_ANNOTATION, p["policy_sha256"]
    return None


def edited(module, flags, before):
    p = module.params
    try:
        return mf.edit_manifest(before, flags, mf.audit_volumes(p["policy_file"], p["log_path"]),
                                wanted_annotation(p), state=p["state"], container_name=p["container_name"])
    except mf.ManifestError as exc:
        module.fail_json(msg="%s: %s" % (p["path"], exc))


def flags_result(container_name, flags, before, after):
    """The role's flags the edit removed, and the audit (and given) flags the manifest has afterwards."""
    now = mf.current_flags(after, container_name)
    gone = set(mf.current_flags(before, container_name)) - set(now)
    return dict(removed_flags=sorted(gone & set(mf.owned_flags(mf.yaml.safe_load(before) or {}))),
                flags={k: v for k, v in now.items() if k.startswith("--audit-") or k in flags})


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("restart", "policy_sha256"), ("restore_from", "restart")])
    require_yaml(module, mf.HAS_YAML)
    p = module.params
    path = p["path"]
    manifests_dir = os.path.dirname(path)
    if p["restore_from"]:
        spf.restore(module, path, files.read_text(path))
    if p["state"] == "present":
        check_audit_log(module)
    backup_dir = spf.backup_dir_outside(module, manifests_dir, "a second apiserver")
    spf.refuse_stale_files(module, manifests_dir, "apiserver_audit_static_pods_allowed")
    before = spf.read_manifest(module, path, "use the k3s/rke2 drop-in (apiserver_k3s_config)")
    flags = audit_flags_from(p)
    after = edited(module, flags, before)
    result = dict(changed=before != after, path=path, changed_at=time.time())
    result.update(flags_result(p["container_name"], flags, before, after))
    files.add_diff(module, result, path, before, after)
    if result["changed"] and p["state"] == "present":
        check_free_disk(module, result)
    if result["changed"] and not module.check_mode:
        spf.write(module, result, after, backup_dir)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
