# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the audit log options in module_utils/audit/args.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  policy_file:
    description:
      - Path of the audit policy as the apiserver sees it (C(--audit-policy-file)).
      - Write it first with M(homelab.observability.audit_policy). Must be a regular file (not a directory).
    type: str
    default: /etc/kubernetes/audit/audit-policy.yml
  log_path:
    description:
      - Audit log file (C(--audit-log-path)). Its directory is created by the kubelet (C(DirectoryOrCreate)).
      - An absolute, normalised file path below a directory other than C(/). V(-) (stdout), a relative path or one
        ending in C(/) is refused, since its directory would be mounted read-write into the apiserver.
      - Before any change the log's directory must exist or be creatable, and be writable (not a read-only mount);
        the path must not be a directory.
    type: str
    default: /var/log/kubernetes/audit/audit.log
  log_format:
    description: C(--audit-log-format).
    type: str
    choices: [json, legacy]
    default: json
  log_maxage:
    description: Days rotated files are kept (C(--audit-log-maxage)). The seed uses 7, CIS 30.
    type: int
    default: 7
  log_maxbackup:
    description:
      - Rotated files kept (C(--audit-log-maxbackup)). The seed uses 3, CIS 10.
      - V(0) means no limit and is refused.
    type: int
    default: 3
  log_maxsize:
    description: Size in MiB at which the log rotates (C(--audit-log-maxsize)). V(0) disables rotation and is refused.
    type: int
    default: 100
  extra_args:
    description:
      - "Further apiserver flags, name without the leading dashes, e.g. C({audit-log-compress: true})."
      - Flags the role does not manage are left alone; these are set like the audit flags.
    type: dict
    default: {}
  host_root:
    description:
      - Directory the host's file system is mounted at. Host paths taken from the apiserver's view
        (O(policy_file), O(log_path)) are looked up under it, e.g. for the free-disk check.
    type: path
    default: /
  disk_check:
    description:
      - Before enabling, check that the log's file system has (O(log_maxbackup) + 1) x O(log_maxsize) MiB free
        (less what the log already uses).
    type: bool
    default: true
"""
