# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic file writes with backups kept outside the watched directory.

The kubelet runs every file in the static pod directory whose name does not start with a dot,
so nothing here ever creates a visible file next to the target: the new content is written into
the module's temporary directory and renamed over the target (``AnsibleModule.atomic_move``,
whose own cross-device fallback uses a ``.ansible_tmp*`` name the kubelet ignores), and backups go
to a separate directory (kubeadm uses ``/etc/kubernetes/tmp``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile
import time


def read_text(path):
    """Content of ``path`` as text, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except OSError as exc:
        if not os.path.exists(path):
            return None
        raise exc


BACKUPS_KEPT = 10


def prune_backups(backup_dir, basename, keep=BACKUPS_KEPT):
    """Delete all but the ``keep`` newest backups of ``basename``; returns the deleted paths."""
    prefix = basename + "."
    names = sorted(n for n in os.listdir(backup_dir) if n.startswith(prefix) and n[len(prefix):][:1].isdigit())
    paths = sorted((os.path.join(backup_dir, n) for n in names), key=os.path.getmtime)
    doomed = paths[:-keep] if keep > 0 else paths
    for doomed_path in doomed:
        os.unlink(doomed_path)
    return doomed


def backup_file(path, backup_dir, stamp=None):
    """Copy ``path`` into ``backup_dir`` (created 0700), keep the newest ten, return the copy's path or None."""
    if not os.path.exists(path):
        return None
    if not os.path.isdir(backup_dir):
        os.makedirs(backup_dir, 0o700)
    stamp = stamp or time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    dest = os.path.join(backup_dir, "%s.%s" % (os.path.basename(path), stamp))
    n = 1
    while os.path.exists(dest):
        dest = os.path.join(backup_dir, "%s.%s.%d" % (os.path.basename(path), stamp, n))
        n += 1
    shutil.copy2(path, dest)
    os.chmod(dest, 0o600)
    os.utime(dest, None)  # newest by mtime, whatever the source's mtime was
    prune_backups(backup_dir, os.path.basename(path))
    return dest


def ensure_dir(module, path, mode=0o750):
    """Create ``path`` and missing parents (root, ``mode``); True when something was created."""
    if os.path.isdir(path):
        return False
    if not module.check_mode:
        os.makedirs(path, mode)
    return True


def write_atomic(module, path, content, mode, owner=None, *, group=None):
    """Replace ``path`` with ``content`` atomically, then set mode/owner/group. Returns changed."""
    current = read_text(path)
    changed = current != content
    if changed and not module.check_mode:
        fd, tmp = tempfile.mkstemp(dir=module.tmpdir)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            module.atomic_move(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    if module.check_mode and current is None:
        return True
    changed = module.set_mode_if_different(path, mode, changed)
    if owner:
        changed = module.set_owner_if_different(path, owner, changed)
    if group:
        changed = module.set_group_if_different(path, group, changed)
    return changed


def add_diff(module, result, path, before, after, *, after_header=None):
    """The file's diff in ``result`` when the module runs with --diff (a missing file diffs as empty)."""
    if module._diff:
        result["diff"] = dict(before=before or "", after=after, before_header=path, after_header=after_header or path)
