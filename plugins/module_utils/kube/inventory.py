# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The objects one manifests component owns: labels stamped on apply, read back by one LIST per kind.

Every object a component applies carries ``homelab.observability/component`` (the component's name),
``homelab.observability/component-namespace`` and ``app.kubernetes.io/managed-by: homelab.observability``.
The planner reads live objects through ``Inventory`` (one LIST per kind and namespace by those labels,
a GET only for an object the LIST did not return), and pruning deletes the labelled objects the
component no longer renders. The kinds a component ever applied are kept in a small ConfigMap
(``<name>-applied-kinds``), so a kind removed from the manifests altogether is still listed and pruned.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.homelab.observability.plugins.module_utils.kube import apply as ap
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref, UnknownKind, scoped_ref

COMPONENT_LABEL = "homelab.observability/component"
NAMESPACE_LABEL = "homelab.observability/component-namespace"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "homelab.observability"
RECORD_LABEL = "homelab.observability/applied-kinds-of"
# deleting one deletes far more than the object (a namespace's contents, every resource of a CRD's kind)
NEVER_PRUNED = ("Namespace", "CustomResourceDefinition")


def labels(name, namespace):
    return {COMPONENT_LABEL: name, NAMESPACE_LABEL: namespace, MANAGED_BY_LABEL: MANAGED_BY}


def selector(name, namespace):
    return ",".join("%s=%s" % pair for pair in sorted(labels(name, namespace).items()))


def stamp(objs, name, namespace):
    """Copies of ``objs`` carrying the component's labels (a managed-by label of the user's own is kept:
    such an object is then never pruned)."""
    out = []
    for obj in objs:
        copied = copy.deepcopy(obj)
        meta = copied.setdefault("metadata", {})
        meta["labels"] = dict(labels(name, namespace), **(meta.get("labels") or {}))
        meta["labels"][COMPONENT_LABEL] = name
        meta["labels"][NAMESPACE_LABEL] = namespace
        out.append(copied)
    return out


def owned(obj, name, namespace):
    """True only for an object carrying all three of the component's labels."""
    own = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return all(own.get(k) == v for k, v in labels(name, namespace).items())


class Inventory:
    """Live objects of one component, one LIST per (apiVersion, kind, namespace)."""

    def __init__(self, api, name, namespace):
        self.api = api
        self.name = name
        self.namespace = namespace
        self.listed = {}

    def items(self, api_version, kind, namespace):
        """{name: live object} of the component's objects of a kind (empty when the kind is not served)."""
        key = (api_version, kind, namespace)
        if key not in self.listed:
            try:
                found = self.api.list(api_version, kind, namespace, label_selector=selector(self.name, self.namespace))
            except UnknownKind:
                found = []
            for item in found:
                # a LIST of built-in kinds leaves apiVersion and kind out of its items
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
            self.listed[key] = {(i.get("metadata") or {}).get("name"): i for i in found}
        return self.listed[key]

    def get(self, ref):
        """The live object of ``ref``: from its kind's LIST, else one GET (applied before it had the labels,
        or deleted)."""
        live = self.items(ref.api_version, ref.kind, ref.namespace).get(ref.name)
        return live if live is not None else self.api.get(ref)


def kind_key(ref):
    return [ref.api_version, ref.kind, ref.namespace]


def record_ref(name, namespace):
    return Ref("v1", "ConfigMap", namespace, "%s-applied-kinds" % name)


def recorded_kinds(api, name, namespace):
    """The kinds (apiVersion, kind, namespace) the component applied in earlier runs."""
    live = api.get(record_ref(name, namespace)) or {}
    try:
        return {tuple(k) for k in json.loads((live.get("data") or {}).get("kinds") or "[]")}
    except (TypeError, ValueError):
        return set()


def record(api, name, namespace, kinds):
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": record_ref(name, namespace).name, "namespace": namespace,
                         "labels": {MANAGED_BY_LABEL: MANAGED_BY, RECORD_LABEL: name}},
            "data": {"kinds": json.dumps(sorted([list(k) for k in kinds], key=str))}}
    return api.apply(body)


def current_kinds(api, objs, namespace):
    out = set()
    for obj in objs:
        try:
            out.add(tuple(kind_key(scoped_ref(api, obj, namespace))))
        except UnknownKind:
            continue
    return out


def plan_prune(inventory, kinds, keep):
    """Delete Changes (reverse install order) for the component's live objects of ``kinds`` whose key
    (group, kind, namespace, name) is not in ``keep``; an apiVersion change keeps the object."""
    changes = []
    for api_version, kind, namespace in sorted(kinds, key=str):
        if kind in NEVER_PRUNED:
            continue
        for item_name, live in sorted(inventory.items(api_version, kind, namespace).items()):
            ref = Ref(api_version, kind, (live.get("metadata") or {}).get("namespace"), item_name)
            if ref.key() in keep or not owned(live, inventory.name, inventory.namespace):
                continue
            changes.append(ap.Change(ref, "delete", None, live, None, note="pruned: no longer rendered"))
    order = {k: i for i, k in enumerate(ap.KIND_ORDER)}
    return sorted(changes, key=lambda c: -order.get(c.ref.kind, len(order)))
