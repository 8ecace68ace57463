# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log rotation settings and the free-disk preflight for the audit log.

The apiserver rotates the log itself (lumberjack): at most ``maxbackup`` rotated files of up to
``maxsize`` MiB each next to the live file, so the log directory needs room for
``(maxbackup + 1) * maxsize`` MiB. ``maxbackup: 0`` means "keep every rotated file" (no limit)
and ``maxsize: 0`` disables rotation: both can fill the disk, so both are refused.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

MIB = 1024 * 1024


def rotation_errors(maxage, maxbackup, maxsize):
    errors = []
    if maxbackup is None or maxbackup < 1:
        errors.append("audit log maxbackup=%s: 0 keeps every rotated file (no limit) and can fill the disk; "
                      "set it to 1 or more (seed 3, CIS 10)" % maxbackup)
    if maxsize is None or maxsize < 1:
        errors.append("audit log maxsize=%s: 0 disables size rotation; set it in MiB, 1 or more (seed and CIS 100)"
                      % maxsize)
    if maxage is None or maxage < 0:
        errors.append("audit log maxage=%s: must be 0 (no age limit) or more days (seed 7, CIS 30)" % maxage)
    return errors


def existing_ancestor(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def existing_log_bytes(log_path):
    """Bytes already used by the live log and its rotated copies (they count toward the budget)."""
    log_dir, base = os.path.split(log_path)
    stem, ext = os.path.splitext(base)
    total = 0
    try:
        names = os.listdir(log_dir)
    except OSError:
        return 0
    for name in names:
        if name == base or (name.startswith(stem + "-") and (name.endswith(ext) or name.endswith(ext + ".gz"))):
            path = os.path.join(log_dir, name)
            total += os.path.getsize(path) if os.path.isfile(path) else 0
    return total


def check_free_space(log_path, maxbackup, maxsize, statvfs=os.statvfs):
    """dict(ok, path, free, required, existing, msg) for the filesystem that will hold ``log_path``."""
    where = existing_ancestor(os.path.dirname(log_path))
    st = statvfs(where)
    free = st.f_bavail * st.f_frsize
    budget = (maxbackup + 1) * maxsize * MIB
    existing = existing_log_bytes(log_path)
    required = max(budget - existing, 0)
    ok = free >= required
    msg = ("%s: %d MiB free, the audit log needs (maxbackup %d + 1) x maxsize %d MiB = %d MiB (%d MiB already used)"
           % (where, free // MIB, maxbackup, maxsize, budget // MIB, existing // MIB))
    if not ok:
        msg += "; free space there, lower maxbackup/maxsize, or point the log path at a larger filesystem"
    return dict(ok=ok, path=where, free=free, required=required, existing=existing, msg=msg)
