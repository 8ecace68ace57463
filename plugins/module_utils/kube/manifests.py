# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of manifests as one unit: load, plan (CRDs first), apply changed objects, delete.

CustomResourceDefinitions are planned and applied before everything else and must be Established
before the custom resources that use them are planned (their kinds are unknown until then).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML; the sanity import test has none
    yaml = None
from ansible_collections.homelab.observability.plugins.module_utils.kube import apply as ap
from ansible_collections.homelab.observability.plugins.module_utils.kube import goyaml
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref, scoped_ref

CRD = "CustomResourceDefinition"
CRD_TIMEOUT = 60


def load(manifests, manifest_files):
    docs = list(manifests or [])
    for path in manifest_files or []:
        try:
            with open(path) as handle:
                docs.extend(goyaml.load_all(handle))
        except (OSError, yaml.YAMLError) as exc:
            raise KubeError("manifest file %s cannot be read: %s" % (path, exc)) from exc
    return ap.parse_documents(docs)


def namespace_object(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def refs_of(api, objs, namespace):
    out = []
    for obj in objs:
        try:
            out.append(scoped_ref(api, obj, namespace))
        except KubeError:
            out.append(Ref.of(obj, namespace))
    return out


def converge(api, waiter, objs, namespace, *, create_namespace, check_mode, get=None, recreate=False):
    """Plan and (unless check mode) apply; returns the list of Changes in apply order. ``get`` reads
    a live object (kube/inventory.py's, one LIST per kind; one GET per object by default).

    Namespaces and CRDs go first, and the rest is planned once the changed CRDs are established:
    the apiserver serves the kinds of a new CRD only then."""
    head = _created_namespace(objs, namespace) if create_namespace else []
    early, late = _split_early(objs)
    first = ap.plan(api, head, namespace) + ap.plan(api, early, namespace, get)
    if not check_mode:
        _execute(api, first)
        _wait_for_crds(api, waiter, [c.ref for c in first if c.ref.kind == CRD and c.action != "none"])
    second = ap.plan(api, late, namespace, get, recreate)
    if not check_mode:
        _execute(api, second)
    return first + second


def _split_early(objs):
    """(Namespaces then CRDs, everything else), each in the order given."""
    early = [o for o in objs if o["kind"] == "Namespace"] + [o for o in objs if o["kind"] == CRD]
    return early, [o for o in objs if o["kind"] not in ("Namespace", CRD)]


def _created_namespace(objs, namespace):
    """The release namespace as an object to apply, unless the manifests bring it themselves."""
    if any(o["kind"] == "Namespace" and o["metadata"]["name"] == namespace for o in objs):
        return []
    return [namespace_object(namespace)]


def _execute(api, changes):
    for change in changes:
        ap.execute(api, change)


def _wait_for_crds(api, waiter, changed_crds):
    """Wait until the changed CRDs are established, then drop the API's cached discovery."""
    if not changed_crds:
        return
    observations, done = waiter.wait(changed_crds, CRD_TIMEOUT)
    if not done:
        raise KubeError(
            "CRDs not established within %ds: %s"
            % (CRD_TIMEOUT, "; ".join("%s: %s" % (o.ref, o.health.message) for o in observations
                                      if o.health.status != h.HEALTHY))
        )
    api.forget()


def remove(api, objs, namespace, check_mode):
    """Delete the objects (reverse install order); returns Changes for those that existed."""
    changes = []
    for obj in reversed(ap.install_order(objs)):
        ref = refs_of(api, [obj], namespace)[0]
        try:
            live = api.get(ref)
        except KubeError:
            live = None
        if live is None:
            continue
        change = ap.Change(ref, "delete", None, live, None)
        changes.append(change)
        if not check_mode:
            ap.execute(api, change)
    return changes
