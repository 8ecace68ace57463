# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads what a kubeconfig says about itself, so a failure can name the file, context and setting.

On the controller the kubernetes library loads the file for the client; this module answers
questions for messages and checks made before it: which files are read, which contexts exist, which
cluster a context points at and whether that cluster asks for ``insecure-skip-tls-verify`` (which the
collection does not honour: it verifies TLS unless ``validate_certs`` is false). On a host without
that library it also reads a context's server and credentials (``credentials``) for
``kube.connection.Connection.from_auth``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os

from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeConfigError

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML; the sanity import test has none
    yaml = None

READ_ERRORS = (OSError,) + ((yaml.YAMLError,) if yaml is not None else ())


def paths(kubeconfig, environ=None):
    """The files the client reads: the option, else each entry of KUBECONFIG, else ~/.kube/config."""
    environ = os.environ if environ is None else environ
    if kubeconfig:
        return [kubeconfig]
    if environ.get("KUBECONFIG"):
        return [p for p in environ["KUBECONFIG"].split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _named(doc, section, key):
    """{name: body} of a kubeconfig list section (clusters, contexts, users)."""
    out = {}
    for entry in doc.get(section) or []:
        if isinstance(entry, dict):
            out.setdefault(entry.get("name"), entry.get(key) or {})
    return out


def load(files):
    """The merged view the client sees (first file wins per name, as kubectl merges); {} when unreadable."""
    merged = {"contexts": {}, "clusters": {}, "users": {}, "current-context": None}
    for path in files if yaml is not None else ():
        try:
            doc = _read(path)
        except READ_ERRORS:
            continue
        if not isinstance(doc, dict):
            continue
        if merged["current-context"] is None:
            merged["current-context"] = doc.get("current-context")
        for section, key in (("contexts", "context"), ("clusters", "cluster"), ("users", "user")):
            for name, body in _named(doc, section, key).items():
                merged[section].setdefault(name, body)
    return merged


def credentials(path, context):
    """(cluster, user) sections of ``context`` (default: the current one) of the kubeconfig ``path``.

    For the readers that do without the kubernetes library; raises KubeConfigError for an unreadable
    file or an undefined context, with the message the controller gives.
    """
    try:
        doc = _read(path)
    except READ_ERRORS as exc:
        raise KubeConfigError("cannot read kubeconfig %s: %s" % (path, exc)) from exc
    if not isinstance(doc, dict) or not doc.get("contexts"):
        raise KubeConfigError("kubeconfig %s defines no context: point 'kubeconfig' at the cluster's" % path)
    view = load([path])
    problem = context_error(view, [path], context)
    if problem:
        raise KubeConfigError(problem)
    ctx = view["contexts"][context or view["current-context"]]
    return view["clusters"].get(ctx.get("cluster")) or {}, view["users"].get(ctx.get("user")) or {}


def credential_file(section, key, base, tmpdir):
    """The file a kubeconfig entry names (``key``, relative to ``base``), or its ``key-data`` written to
    ``tmpdir`` with mode 0600; None when neither is set."""
    if section.get(key + "-data"):
        path = os.path.join(tmpdir, key)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64decode(section[key + "-data"]))
        return path
    if section.get(key):
        return os.path.join(base, section[key])
    return None


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
