# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file side of every module that edits a static pod manifest (apiserver_manifest, static_pod_flags).

The kubelet runs every file of the manifests directory whose name does not start with a dot, so a
backup there is a second copy of the component: backups go to ``backup_dir`` outside it, and a
module refuses to work while the directory holds a file that is no known manifest. A write records
``changed_at`` just before it, so that a waiter can tell the new process from the old one, and a
restore puts a backup back atomically (the rollback).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.homelab.observability.plugins.module_utils.audit import files
from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf


def restore(module, path, before):
    """Put ``restore_from`` back at ``path`` (the rollback) and exit."""
    source = module.params["restore_from"]
    content = files.read_text(source)
    if content is None:
        module.fail_json(msg="restore_from %s does not exist; restore %s by hand from %s"
                             % (source, path, module.params["backup_dir"]))
    result = dict(changed=before != content, path=path, restored_from=source, changed_at=time.time())
    files.add_diff(module, result, path, before, content, after_header=source)
    if result["changed"] and not module.check_mode:
        mode = os.stat(path).st_mode & 0o7777 if before is not None else 0o600
        result["changed_at"] = time.time()  # before the write: a process started after it is the new one
        files.write_atomic(module, path, content, mode)
    module.exit_json(**result)


def backup_dir_outside(module, manifests_dir, second):
    """``backup_dir``, refused inside the manifests directory (``second``: what a backup there would be)."""
    backup_dir = os.path.abspath(module.params["backup_dir"])
    if os.path.abspath(manifests_dir) == backup_dir or backup_dir.startswith(os.path.abspath(manifests_dir) + "/"):
        module.fail_json(msg="backup_dir %s is inside the manifests directory, where the kubelet would run the "
                             "backup as %s; use e.g. /etc/kubernetes/tmp" % (backup_dir, second))
    return backup_dir


def refuse_stale_files(module, manifests_dir, role_variable):
    """Fail while the manifests directory holds a file the kubelet would run that no one listed."""
    stale = mf.stale_files(manifests_dir, module.params["allowed_manifests"])
    if stale:
        module.fail_json(
            msg="%s holds %s: the kubelet runs every file there whose name does not start with a dot, so a stale "
                "backup or editor file is a second static pod. Move it out (e.g. to /etc/kubernetes/tmp/) or "
                "delete it, or list a legitimate static pod in allowed_manifests (role variable %s); nothing changed"
                % (manifests_dir, ", ".join(stale), role_variable), stale_files=stale)


def read_manifest(module, path, otherwise):
    """The manifest's text; a missing one is no kubeadm control plane (``otherwise``: what to use instead)."""
    before = files.read_text(path)
    if before is None:
        module.fail_json(msg="%s does not exist: this host does not look like a kubeadm control plane node; "
                             "check the path or %s" % (path, otherwise))
    return before


def write(module, result, after, backup_dir):
    """Back the manifest up into ``backup_dir``, then write ``after`` in its place (its mode kept)."""
    path = result["path"]
    result["backup_file"] = files.backup_file(path, backup_dir)
    mode = os.stat(path).st_mode & 0o7777
    result["changed_at"] = time.time()  # before the write: a process started after it is the new one
    files.write_atomic(module, path, after, mode)
