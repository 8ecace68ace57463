#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: apiserver_k3s_config
short_description: Enable kube-apiserver audit logging on k3s or rke2 with a config.yaml.d drop-in
version_added: 0.1.0
description:
  - Writes C(/etc/rancher/<flavor>/config.yaml.d/90-homelab-observability-audit.yaml) with the audit flags under
    C(kube-apiserver-arg+). The C(+) appends to the args of earlier config files; without it the drop-in would
    replace them.
  - On rke2, where the apiserver is a static pod, the policy file (read-only) and the log directory are also
    mounted with C(kube-apiserver-extra-mount+).
  - Warns when another config file would override or duplicate these flags.
  - In check mode a missing policy file is a warning (the real run fails on it), as in
    M(homelab.observability.apiserver_manifest).
  - The service (C(k3s) or C(rke2-server)) has to be restarted afterwards; the role's handler does it.
author:
  - homelab.observability maintainers (@homelab-observability)
extends_documentation_fragment:
  - homelab.observability.audit_log
options:
  flavor:
    description: The distribution.
    type: str
    choices: [k3s, rke2]
    default: k3s
  path:
    description: The drop-in file. Defaults to C(<host_root>/etc/rancher/<flavor>/config.yaml.d/90-homelab-observability-audit.yaml).
    type: path
  state:
    description: V(absent) removes the drop-in.
    type: str
    choices: [present, absent]
    default: present
  policy_sha256:
    description: Checksum of the policy, recorded in a comment so that a policy change shows as a change here too.
    type: str
  backup_dir:
    description: Where the previous drop-in is copied before a change (outside C(config.yaml.d), which is read whole).
    type: path
  mode:
    description: File mode of the drop-in. A string is read as octal (V('0600')), a number is taken as it is.
    type: raw
    default: '0600'
  owner:
    description: Owner of the drop-in.
    type: str
    default: root
  group:
    description: Group of the drop-in.
    type: str
    default: root
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
seealso:
  - name: k3s configuration file
    description: Multiple config files and the '+' suffix.
    link: https://docs.k3s.io/installation/configuration#configuration-file
"""

EXAMPLES = r"""
- name: Audit logging on a k3s server
  homelab.observability.apiserver_k3s_config:
    flavor: k3s
    policy_file: /etc/rancher/k3s/audit-policy.yml
    policy_sha256: "{{ policy.sha256 }}"
  notify: Restart kube-apiserver
"""

RETURN = r"""
path:
  description: The drop-in file.
  returned: always
  type: str
content:
  description: The drop-in's text.
  returned: when state is present
  type: str
service:
  description: The systemd unit to restart for the change to apply.
  returned: always
  type: str
  sample: k3s
backup_file:
  description: Copy of the previous drop-in.
  returned: when O(backup_dir) is set and the file changed
  type: str
disk:
  description: The free-disk preflight.
  returned: when the check ran
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.audit import files, k3s
from ansible_collections.homelab.observability.plugins.module_utils.audit.args import (
    audit_flags_from,
    audit_log_argument_spec,
    on_host,
)
from ansible_collections.homelab.observability.plugins.module_utils.audit.module_preflight import (
    check_audit_log,
    check_free_disk,
    file_mode,
    require_yaml,
)


def argument_spec():
    spec = audit_log_argument_spec()
    spec.update(
        flavor=dict(type="str", default="k3s", choices=list(k3s.FLAVORS)),
        path=dict(type="path"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        policy_sha256=dict(type="str"),
        backup_dir=dict(type="path"),
        mode=dict(type="raw", default="0600"),
        owner=dict(type="str", default="root"),
        group=dict(type="str", default="root"),
    )
    return spec


def remove(module, result, before):
    """state=absent: delete the drop-in (after a backup when backup_dir is set)."""
    path = result["path"]
    result["changed"] = before is not None
    files.add_diff(module, result, path, before, "")
    if before is not None and not module.check_mode:
        if module.params["backup_dir"]:
            result["backup_file"] = files.backup_file(path, module.params["backup_dir"])
        os.unlink(path)
    module.exit_json(**result)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_yaml(module, k3s.HAS_YAML)
    p = module.params
    path = p["path"] or on_host(p["host_root"], os.path.join(k3s.config_dir(p["flavor"]), k3s.DROPIN_NAME))
    result = dict(changed=False, path=path, service=k3s.SERVICES[p["flavor"]])
    before = files.read_text(path)
    if p["state"] == "absent":
        remove(module, result, before)
    check_audit_log(module)
    mode = file_mode(module, p["mode"])
    content = k3s.render_dropin(p["flavor"], audit_flags_from(p), p["policy_file"], p["log_path"], p["policy_sha256"])
    result.update(content=content, changed=before != content)
    files.add_diff(module, result, path, before, content)
    for warning in k3s.conflicts(p["flavor"], path, p["host_root"]):
        module.warn(warning)
    if result["changed"]:
        check_free_disk(module, result)
        if not module.check_mode and before is not None and p["backup_dir"]:
            result["backup_file"] = files.backup_file(path, p["backup_dir"])
    files.ensure_dir(module, os.path.dirname(path), 0o755)
    result["changed"] = files.write_atomic(module, path, content, mode, p["owner"], group=p["group"]) or result["changed"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
