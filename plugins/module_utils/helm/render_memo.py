# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remembered no-change verdicts: a client-side render of a local chart that matched a release's stored manifest.

An unchanged rerun renders every chart again to compare it with what the release stored; for a large chart
(the 4 MB CRD chart) that render is the longest step of the run. ``helm template`` reads only its inputs:
the chart's files, the values, the release name and namespace, the Kubernetes version given to it, the
upgrade flag and helm itself. When none of them changed and the release still stores the manifest a render
matched before, the render would match again, so the verdict is kept: an empty file named by the digest of
all of them, one per release, under ``$HOMELAB_OBSERVABILITY_CACHE_HOME``, else ``$XDG_CACHE_HOME`` or
``~/.cache``, then ``homelab.observability/renders``. Only digests are written (no values). A render that
differed is not remembered, a chart that is not a local file or directory is never remembered, and a cache
that cannot be read or written is not used.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

ENV_HOME = "HOMELAB_OBSERVABILITY_CACHE_HOME"


def cache_dir(environ=None):
    env = os.environ if environ is None else environ
    home = env.get(ENV_HOME)
    if not home:
        home = os.path.join(env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "homelab.observability")
    return os.path.join(home, "renders")


def chart_digest(ref):
    """sha256 of a local chart: the archive's bytes, or a directory's file names and contents; None otherwise."""
    path = os.path.expanduser(ref)
    digest = hashlib.sha256()
    try:
        if os.path.isfile(path):
            _add_file(digest, path)
            return digest.hexdigest()
        if not os.path.isdir(path):
            return None
        for top, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(top, name)
                digest.update(os.path.relpath(full, path).encode("utf-8", "surrogateescape") + b"\0")
                _add_file(digest, full)
    except OSError:
        return None
    return digest.hexdigest()


def _add_file(digest, path):
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(b"\0")


def fingerprint(helm_version, target, *, kube_version, is_upgrade, stored_manifest):
    """The digest of everything a client-side render reads and of the stored manifest; None when the chart
    is not local. ``target`` is (name, namespace, chart, values)."""
    name, namespace, chart_spec, values = target
    chart = chart_digest(chart_spec["ref"])
    if chart is None:
        return None
    digest = hashlib.sha256()
    parts = (helm_version, chart, name, namespace, json.dumps(values or {}, sort_keys=True, default=str),
             kube_version or "", "upgrade" if is_upgrade else "install",
             hashlib.sha256((stored_manifest or "").encode("utf-8")).hexdigest())
    for part in parts:
        digest.update(str(part).encode("utf-8") + b"\0")
    return digest.hexdigest()


def _release_dir(name, namespace):
    return os.path.join(cache_dir(), "%s_%s" % (namespace, name))


def seen(key, name, namespace):
    return key is not None and os.path.isfile(os.path.join(_release_dir(name, namespace), key))


def remember(key, name, namespace):
    """Keep ``key`` as the release's one remembered verdict: the cache holds one file per release."""
    if key is None:
        return
    where = _release_dir(name, namespace)
    try:
        os.makedirs(where, mode=0o700, exist_ok=True)
        for old in os.listdir(where):
            if old != key:
                os.unlink(os.path.join(where, old))
        with open(os.path.join(where, key), "w"):
            pass
    except OSError:
        return
