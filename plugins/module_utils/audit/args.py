# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument spec shared by the modules that configure the apiserver's audit log.

Documented by the doc fragment ``homelab.observability.audit_log``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf


def audit_log_argument_spec():
    return dict(
        policy_file=dict(type="str", default="/etc/kubernetes/audit/audit-policy.yml"),
        log_path=dict(type="str", default="/var/log/kubernetes/audit/audit.log"),
        log_format=dict(type="str", default="json", choices=["json", "legacy"]),
        log_maxage=dict(type="int", default=7),
        log_maxbackup=dict(type="int", default=3),
        log_maxsize=dict(type="int", default=100),
        extra_args=dict(type="dict", default={}),
        host_root=dict(type="path", default="/"),
        disk_check=dict(type="bool", default=True),
    )


def audit_flags_from(params):
    """The apiserver's audit flags for the options of audit_log_argument_spec() (manifest.audit_flags)."""
    return mf.audit_flags(params["policy_file"], params["log_path"], params["log_format"],
                          maxage=params["log_maxage"], maxbackup=params["log_maxbackup"],
                          maxsize=params["log_maxsize"], extra=params["extra_args"])


def on_host(host_root, path):
    """``path`` (as the apiserver sees it) under the host root the module works in."""
    if not host_root or host_root == "/":
        return path
    return os.path.join(host_root, path.lstrip("/"))
