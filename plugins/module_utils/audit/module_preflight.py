# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every audit module checks before it changes anything, the same way in each module.

A module stops with ``fail_json`` (the message names the input and the fix, and ends with
"nothing changed") on: PyYAML missing on the host, a file mode that is not octal, audit log
options the apiserver cannot start with (see audit/preflight.py), and, before a write, too little disk
for the rotated logs.

Check mode is a plan that usually runs before the policy is written (the role plans first), so
a missing policy file is not an error there: every module that takes the audit log options warns
about it instead, and the same run outside check mode fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.homelab.observability.plugins.module_utils.audit import disk, preflight
from ansible_collections.homelab.observability.plugins.module_utils.audit.args import on_host


def require_yaml(module, has_yaml):
    if not has_yaml:
        module.fail_json(msg=missing_required_lib("PyYAML (python3-yaml)"))


def file_mode(module, value):
    """The numeric mode of ``value``: a string is octal ('0600'), a number is taken as it is (as Ansible's file)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        module.fail_json(msg="mode: %r is not an octal file mode; write it quoted, e.g. '0600'" % (value,))


def audit_log_errors(params, policy_must_exist):
    """Every problem of the audit log options and their paths on the host, before anything changes."""
    errors = preflight.log_path_errors(params["log_path"]) + preflight.policy_path_errors(params["policy_file"])
    errors += disk.rotation_errors(params["log_maxage"], params["log_maxbackup"], params["log_maxsize"])
    if errors:
        return errors
    return preflight.host_errors(on_host(params["host_root"], params["log_path"]),
                                 on_host(params["host_root"], params["policy_file"]), policy_must_exist)


def check_audit_log(module):
    """Fail on any audit log problem; in check mode only warn that the policy file is not there yet."""
    p = module.params
    errors = audit_log_errors(p, policy_must_exist=not module.check_mode)
    if errors:
        module.fail_json(msg="; ".join(errors) + "; nothing changed", errors=errors)
    policy_on_host = on_host(p["host_root"], p["policy_file"])
    if not os.path.isfile(policy_on_host):  # check mode only: audit_log_errors refused it otherwise
        module.warn("policy_file %s does not exist yet: the apiserver would not start without it; write it first "
                    "with homelab.observability.audit_policy" % policy_on_host)


def check_free_disk(module, result):
    """Before a change that enables the log: room for the rotated files (unless disk_check is off)."""
    p = module.params
    if not p["disk_check"]:
        return
    result["disk"] = disk.check_free_space(on_host(p["host_root"], p["log_path"]), p["log_maxbackup"],
                                           p["log_maxsize"])
    if not result["disk"]["ok"]:
        module.fail_json(msg="not enough disk for the audit log: %s; nothing changed" % result["disk"]["msg"],
                         disk=result["disk"])
