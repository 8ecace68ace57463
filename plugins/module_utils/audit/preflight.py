# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the audit log and policy paths that run before anything on the host changes.

The apiserver exits at start when it cannot open its log or policy, and the control plane is
then down until a rollback. Each of these is found here instead, with the input that causes it
and the fix:

* the log path is a file path the role can mount: absolute, normalised, no trailing slash, not
  ``-`` (the apiserver's "stdout", which would make the log directory ``/``, mounted read-write),
  and not directly under ``/`` (its directory would be the whole root file system);
* on the host, the log path is not a directory, its directory exists or can be created, and is
  writable (not on a read-only mount);
* the policy file is a regular file (not a directory), and exists when the apiserver is to read it.

The checks only read (``os.access``, ``os.statvfs``); nothing is created to find out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath
import stat

from ansible_collections.homelab.observability.plugins.module_utils.audit import disk

ST_RDONLY = getattr(os, "ST_RDONLY", 1)


def log_path_errors(log_path):
    """What is wrong with ``log_path`` (as the apiserver sees it) as a path to mount; [] when fine."""
    hint = "give a file path such as /var/log/kubernetes/audit/audit.log"
    if log_path == "-":
        return ["log_path '-' (stdout) is not supported: the role mounts the log's directory and rotates the file; "
                "%s" % hint]
    if not log_path.startswith("/"):
        return ["log_path %r is relative: the apiserver would resolve it in its own working directory and the "
                "role would mount '/'; %s" % (log_path, hint)]
    if log_path.endswith("/"):
        return ["log_path %r ends with '/': it names a directory, the apiserver needs a file; %s"
                % (log_path, hint)]
    if posixpath.normpath(log_path) != log_path:
        return ["log_path %r is not normalised (//, ./ or ../); write %r" % (log_path, posixpath.normpath(log_path))]
    if posixpath.dirname(log_path) == "/":
        return ["log_path %r is directly under '/': the role would mount the whole root file system read-write "
                "into the apiserver; %s" % (log_path, hint)]
    return []


def policy_path_errors(policy_file):
    if not policy_file.startswith("/") or policy_file.endswith("/") or posixpath.normpath(policy_file) != policy_file:
        return ["policy_file %r: give the policy's absolute, normalised file path, e.g. "
                "/etc/kubernetes/audit/audit-policy.yml" % policy_file]
    return []


def _writable_dir_error(what, directory):
    """Why the apiserver (root) cannot create files in ``directory``, or None."""
    try:
        st = os.statvfs(directory)
    except OSError as exc:
        return "%s %s cannot be checked (%s)" % (what, directory, exc.strerror)
    if st.f_flag & ST_RDONLY:
        return ("%s %s is on a read-only file system: the apiserver could not write its audit log and would not "
                "start; point log_path at a writable file system (e.g. /var/log/kubernetes/audit/audit.log)"
                % (what, directory))
    if not os.access(directory, os.W_OK | os.X_OK):
        return ("%s %s is not writable (permissions): fix its mode or point log_path elsewhere" % (what, directory))
    return None


def host_errors(log_on_host, policy_on_host, policy_must_exist):
    """Problems of the two paths on the host (already mapped under the host root); [] when fine."""
    errors = []
    if os.path.isdir(log_on_host):
        errors.append("log_path %s is a directory; the apiserver needs a file path, e.g. %s"
                      % (log_on_host, os.path.join(log_on_host, "audit.log")))
    elif os.path.lexists(log_on_host) and not os.path.isfile(log_on_host):
        errors.append("log_path %s exists and is not a regular file; move it away or choose another path" % log_on_host)
    elif os.path.isfile(log_on_host) and not os.access(log_on_host, os.W_OK):
        errors.append("log_path %s is not writable; fix its mode or choose another path" % log_on_host)
    log_dir = os.path.dirname(log_on_host)
    ancestor = disk.existing_ancestor(log_dir)
    if not os.path.isdir(ancestor):
        errors.append("the log directory %s cannot be created: %s is a file; choose another log_path"
                      % (log_dir, ancestor))
    else:
        what = "the log directory" if ancestor == os.path.abspath(log_dir) else (
            "the log directory %s would be created in" % log_dir)
        problem = _writable_dir_error(what, ancestor)
        if problem:
            errors.append(problem)
    try:
        mode = os.stat(policy_on_host).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        errors.append("policy_file %s is %s; the apiserver needs the policy file itself (hostPath type File)"
                      % (policy_on_host, kind))
    elif mode is None and policy_must_exist:
        errors.append("policy_file %s does not exist; the apiserver would not start (hostPath type File); write it "
                      "first with homelab.observability.audit_policy" % policy_on_host)
    return errors
