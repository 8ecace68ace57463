#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: audit_policy
short_description: Validate and write a Kubernetes audit policy file
version_added: 0.1.0
description:
  - Builds an C(audit.k8s.io/v1) C(Policy) from O(rules) (or takes a whole O(policy)), validates it the way
    kube-apiserver does before anything is written, and writes it atomically.
  - Validation rejects everything that would stop the apiserver from starting (wrong apiVersion or kind, no rules,
    bad levels or stages, non-resource URLs without a leading C(/) or with C(*) before the end, rules mixing
    resources and non-resource URLs, upper-case or versioned API groups, resourceNames without resources).
  - It is stricter than the apiserver where the apiserver would silently widen or void a rule
    (unknown fields, unknown verbs, C(*) as a verb). Each message names the rule index, the field and the fix.
  - A policy change alone does not restart kube-apiserver; see M(homelab.observability.apiserver_manifest)
    option O(homelab.observability.apiserver_manifest#module:policy_sha256).
author:
  - homelab.observability maintainers (@homelab-observability)
options:
  path:
    description: Where the policy is written.
    type: path
    default: /etc/kubernetes/audit/audit-policy.yml
  rules:
    description:
      - The policy rules, in order (the first matching rule decides the level).
      - Defaults to the seed's rules (noise None; secret, RBAC, auth and infrastructure mutations RequestResponse;
        other mutations and remaining reads Metadata).
      - Mutually exclusive with O(policy).
    type: list
    elements: dict
  omit_stages:
    description: Stages no event is written for, policy-wide.
    type: list
    elements: str
    default: [RequestReceived]
  omit_managed_fields:
    description: Leave managedFields out of request and response bodies. Unset leaves the apiserver's default (false).
    type: bool
  policy:
    description:
      - A complete policy object (apiVersion, kind, rules, ...). Mutually exclusive with O(rules) and O(omit_stages).
    type: dict
  src:
    description:
      - A policy file on the managed host to validate and write to O(path), read the way the apiserver reads it
        (YAML 1.1 scalars as go-yaml resolves them, so an unquoted C(y) is a boolean there too).
      - An empty file, a directory or a file that is not a policy mapping is refused; it is never taken as "no policy".
      - Mutually exclusive with O(policy) and O(rules).
    type: path
  validate:
    description:
      - Validate before writing. Only turn this off to test how the apiserver handles a policy it rejects,
        or for a policy field newer than this module.
    type: bool
    default: true
  backup_dir:
    description:
      - Copy the previous file into this directory before replacing it (never next to the policy).
      - The copy's path is returned in RV(backup_file).
    type: path
  mode:
    description: File mode of the policy. A string is read as octal (V('0600')), a number is taken as it is.
    type: raw
    default: '0600'
  owner:
    description: Owner of the policy file.
    type: str
    default: root
  group:
    description: Group of the policy file.
    type: str
    default: root
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
notes:
  - RequestResponse on Secrets writes the Secret values into the audit log; Kubernetes does not redact them.
seealso:
  - name: Kubernetes auditing
    description: The audit policy reference.
    link: https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/
"""

EXAMPLES = r"""
- name: Write the seed's default policy
  homelab.observability.audit_policy:
    path: /etc/kubernetes/audit/audit-policy.yml

- name: Drop the events of a noisy service account, then the defaults
  homelab.observability.audit_policy:
    rules: "{{ [{'level': 'None', 'users': ['system:serviceaccount:monitoring:alloy']}] + apiserver_audit_rules }}"
    backup_dir: /etc/kubernetes/tmp
"""

RETURN = r"""
path:
  description: The policy file.
  returned: always
  type: str
policy:
  description: The policy object that was (or would be) written.
  returned: always
  type: dict
content:
  description: The YAML text of the policy.
  returned: always
  type: str
sha256:
  description: SHA-256 of RV(content); give it to the manifest module so a policy change restarts the apiserver.
  returned: always
  type: str
  sample: 3f1c...
backup_file:
  description: Copy of the previous file, when O(backup_dir) is set and the content changed.
  returned: when a backup was made
  type: str
warnings_list:
  description: Problems that do not stop the apiserver, e.g. rules after a catch-all rule.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.audit import files, yaml11
from ansible_collections.homelab.observability.plugins.module_utils.audit import policy as audit_policy
from ansible_collections.homelab.observability.plugins.module_utils.audit.module_preflight import (
    file_mode,
    require_yaml,
)

HEADER = ("Kubernetes audit policy. Managed by Ansible (homelab.observability.audit_policy);\n"
          "local edits are overwritten. First matching rule wins.")


def argument_spec():
    return dict(
        path=dict(type="path", default="/etc/kubernetes/audit/audit-policy.yml"),
        rules=dict(type="list", elements="dict"),
        omit_stages=dict(type="list", elements="str", default=["RequestReceived"]),
        omit_managed_fields=dict(type="bool"),
        policy=dict(type="dict"),
        src=dict(type="path"),
        validate=dict(type="bool", default=True),
        backup_dir=dict(type="path"),
        mode=dict(type="raw", default="0600"),
        owner=dict(type="str", default="root"),
        group=dict(type="str", default="root"),
    )


def read_src(module, src):
    """The policy object in the file ``src``, as the apiserver would read it; fails on anything else."""
    if os.path.isdir(src):
        module.fail_json(msg="src %s is a directory; give the policy file itself; nothing written" % src)
    text = files.read_text(src)
    if text is None:
        module.fail_json(msg="src %s does not exist; nothing written" % src)
    try:
        obj = yaml11.go_load(text)
    except yaml11.yaml.YAMLError as exc:
        module.fail_json(msg="src %s is not valid YAML (%s); nothing written" % (src, exc))
    if obj is None:
        module.fail_json(msg="src %s is empty: the apiserver would not start with it, and it is not taken as the "
                             "default policy; write a policy into it or leave src out for the defaults; nothing "
                             "written" % src)
    return obj


def policy_object(module):
    """The policy to write: from src, as given, or the default one built from rules."""
    p = module.params
    if p["src"] is not None:
        return read_src(module, p["src"])
    if p["policy"] is not None:
        return p["policy"]
    return audit_policy.default_policy(p["rules"], p["omit_stages"], p["omit_managed_fields"])


def validated(module, obj):
    """The policy's warnings (each also shown); fails, writing nothing, on what the apiserver rejects."""
    if not module.params["validate"]:
        return []
    try:
        warnings = audit_policy.validate_policy(obj)
    except audit_policy.PolicyError as exc:
        module.fail_json(msg="audit policy for %s rejected, nothing written: %s" % (module.params["path"], exc),
                         errors=exc.errors)
    for warning in warnings:
        module.warn(warning)
    return warnings


def write(module, result, before, mode):
    """Back up and write the policy; whether the file (or its directory) changed."""
    p = module.params
    path, content = result["path"], result["content"]
    created_dir = files.ensure_dir(module, os.path.dirname(path))
    if before is not None and before != content and p["backup_dir"] and not module.check_mode:
        result["backup_file"] = files.backup_file(path, p["backup_dir"])
    if created_dir and module.check_mode:
        return True
    return files.write_atomic(module, path, content, mode, p["owner"], group=p["group"]) or created_dir


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("policy", "rules"), ("policy", "omit_managed_fields"), ("src", "policy"), ("src", "rules"),
                            ("src", "omit_managed_fields")],
        supports_check_mode=True,
    )
    require_yaml(module, audit_policy.HAS_YAML)
    p = module.params
    mode = file_mode(module, p["mode"])
    obj = policy_object(module)
    warnings = validated(module, obj)
    content = audit_policy.render_policy(obj, header=HEADER)
    path = p["path"]
    before = files.read_text(path)
    result = dict(changed=False, path=path, policy=audit_policy._clean(obj), content=content,
                  sha256=audit_policy.policy_sha256(content), warnings_list=warnings)
    files.add_diff(module, result, path, before, content)
    result["changed"] = write(module, result, before, mode)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
