# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads what a kubeconfig says about itself, so a failure can name the file, context and setting.

The kubernetes library loads the file for the client; this module only answers questions for
messages and checks made before it: which files are read, which contexts exist, which cluster a
context points at and whether that cluster asks for ``insecure-skip-tls-verify`` (which the
collection does not honour: it verifies TLS unless ``validate_certs`` is false).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML; the sanity import test has none
    yaml = None


def paths(kubeconfig, environ=None):
    """The files the client reads: the option, else each entry of KUBECONFIG, else ~/.kube/config."""
    environ = os.environ if environ is None else environ
    if kubeconfig:
        return [kubeconfig]
    if environ.get("KUBECONFIG"):
        return [p for p in environ["KUBECONFIG"].split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def load(files):
    """The merged view the client sees (first file wins per name, as kubectl merges); {} when unreadable."""
    merged = {"contexts": {}, "clusters": {}, "current-context": None}
    for path in files if yaml is not None else ():
        try:
            with open(path, encoding="utf-8") as handle:
                doc = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(doc, dict):
            continue
        if merged["current-context"] is None:
            merged["current-context"] = doc.get("current-context")
        for section, key in (("contexts", "context"), ("clusters", "cluster")):
            for entry in doc.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") not in merged[section]:
                    merged[section][entry.get("name")] = entry.get(key) or {}
    return merged


def context_error(view, files, context):
    """A message when ``context`` (or the current-context, when None) is not defined; None when it is."""
    if not view["contexts"]:
        return None  # nothing readable here: leave the message to the client library
    wanted = context or view["current-context"]
    if wanted in view["contexts"]:
        return None
    known = ", ".join(sorted(str(name) for name in view["contexts"]))
    where = ", ".join(files)
    if context:
        return ("context %r is not defined in kubeconfig %s (it defines: %s): set 'context' (or K8S_AUTH_CONTEXT) "
                "to one of them, or leave it unset to use the current-context" % (context, where, known))
    return ("the current-context %r of kubeconfig %s is not defined (it defines: %s): set 'context' "
            "(or K8S_AUTH_CONTEXT) to one of them" % (wanted, where, known))


def cluster_of(view, context):
    """(cluster name, cluster dict) the context points at; (None, {}) when unknown."""
    ctx = view["contexts"].get(context or view["current-context"]) or {}
    name = ctx.get("cluster")
    return name, view["clusters"].get(name) or {}
