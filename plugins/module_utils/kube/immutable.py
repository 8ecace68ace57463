# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changes the apiserver refuses because a field is immutable, and how to get past them.

The apiserver's validation names the object and the field (``StatefulSet.apps "x" is invalid:
spec: Forbidden: updates to statefulset spec ...``, ``... spec.selector: Invalid value: ...: field
is immutable``); helm wraps that text (``cannot patch "x" with kind StatefulSet: ...``). ``find``
reads either, ``explain`` says which field, why it is immutable and the fix, and ``recreate``
deletes the object so the next apply creates it anew: a StatefulSet with propagation Orphan, so
its pods and claims stay.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.health import group_of
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref, UnknownKind

# <Kind>[.<group>] "<name>" is invalid: <field>: <detail>; several field errors are joined by ", "
_INVALID = re.compile(r'\b([A-Z][A-Za-z]+)(?:\.([a-z0-9.-]+))? "([^"]+)" is invalid: (.*)')
# one field error of the list ("<field>: <type>: <detail>", joined by ", ")
_FIELD_ERROR_START = r"[a-zA-Z][\w.\[\]]*: (?:Invalid value|Forbidden|Required value|Unsupported value|Not found)"
_SPLIT = re.compile(r", (?=%s)" % _FIELD_ERROR_START)
# the wordings of the apiserver's immutable-field validations (apps, core and batch validation)
_IMMUTABLE = re.compile(
    r"^(?P<field>[a-zA-Z][\w.\[\]]*): (?:Forbidden: (?P<forbidden>updates to statefulset spec.*?are forbidden"
    r"|spec is immutable after creation.*?claims)|(?:Forbidden|Invalid value: .*): (?P<invalid>field is immutable"
    r"|may not change once set))"
)
# the served version of a kind the apiserver named by group only, for an object no rendered manifest holds
_API_VERSIONS = {
    ("apps", "StatefulSet"): "apps/v1", ("apps", "Deployment"): "apps/v1", ("apps", "DaemonSet"): "apps/v1",
    ("apps", "ReplicaSet"): "apps/v1", ("batch", "Job"): "batch/v1", ("batch", "CronJob"): "batch/v1",
}
# why a field cannot change, per kind (the controller or the data behind it depends on it)
_WHY = {
    "StatefulSet": "a StatefulSet's volumeClaimTemplates, selector, serviceName and podManagementPolicy are fixed "
                   "at creation (its claims and pod identities are made from them)",
    "Deployment": "a Deployment's selector is fixed at creation (it decides which ReplicaSets and pods it owns)",
    "DaemonSet": "a DaemonSet's selector is fixed at creation (it decides which pods it owns)",
    "ReplicaSet": "a ReplicaSet's selector is fixed at creation",
    "Job": "a Job's pod template and selector are fixed at creation (a Job runs what it was created with)",
    "Service": "a Service's cluster IP is allocated once and cannot be changed or released in place",
    "PersistentVolumeClaim": "a claim's spec is fixed at creation except its storage request (a bound volume "
                             "cannot change class, access modes or source)",
}
# what recreating costs, per kind
_RISK = {
    "StatefulSet": "the StatefulSet is deleted with propagation Orphan, so its pods and PersistentVolumeClaims "
                   "stay and are adopted again; existing claims keep their old storage class, only new claims "
                   "get the new one",
    "Deployment": "the Deployment and its pods are deleted and created again: downtime until the new pods are ready",
    "DaemonSet": "the DaemonSet and its pods are deleted and created again: downtime on every node",
    "Job": "the Job and its pods are deleted and the Job runs again",
    "Service": "the Service is deleted and created again with a new cluster IP: clients that cached the old one "
               "lose it",
    "PersistentVolumeClaim": "the claim is deleted and created again: with a Delete reclaim policy the DATA IS "
                             "LOST",
}
DELETE_TIMEOUT = 60


class Immutable:
    """One refused change: the object (kind, API group, name) and the field the apiserver named.

    ``group`` is "" for the core group; None when not known (a prediction from an object without apiVersion)."""

    __slots__ = ("kind", "group", "name", "field", "detail", "changed")

    def __init__(self, kind, name, field, detail, group=None):
        self.kind = kind
        self.group = group
        self.name = name
        self.field = field
        self.detail = detail
        self.changed = []  # the fields under ``field`` that differ, when known (refine)

    def rendered(self, objects):
        """The object of ``objects`` (rendered manifests) this refusal is about, or None."""
        for obj in objects or []:
            if (obj.get("kind") == self.kind and (obj.get("metadata") or {}).get("name") == self.name
                    and self.group in (None, group_of(obj.get("apiVersion")))):
                return obj
        return None

    def __eq__(self, other):
        return isinstance(other, Immutable) and self.key() == other.key()

    def key(self):
        return (self.kind, self.name, self.field)

    __hash__ = None

    def __repr__(self):
        return "Immutable(%s/%s %s)" % (self.kind, self.name, self.field)


class ImmutableFieldError(KubeError):
    """The apiserver refused a change of an immutable field; ``items`` are the Immutable found."""

    def __init__(self, message, items):
        self.items = items
        super().__init__(message)


def find(text):
    """The immutable-field refusals in an apiserver or helm error text, in order, without repeats."""
    out = []
    for part in re.split(r" && |\n", text or ""):
        match = _INVALID.search(part)
        if not match:
            continue
        kind, group, name, rest = match.groups()
        # more than one field error comes as a list: [a: ..., b: ...]
        rest = rest.strip()
        if rest.startswith("["):
            rest = rest[1:].rstrip("]")
        for field_error in _SPLIT.split(rest):
            field_match = _IMMUTABLE.match(field_error)
            if not field_match:
                continue
            detail = field_match.group("forbidden") or field_match.group("invalid")
            item = Immutable(kind, name, field_match.group("field"), detail, group or "")
            if item not in out:
                out.append(item)
    return out


def _differing(live, desired, path):
    """Paths (with old -> new) of the fields ``desired`` sets to another value than ``live``; lists of
    named items (claim templates) are matched by name. Fields the server defaulted are not compared."""
    if isinstance(desired, dict) and isinstance(live, dict):
        out = []
        for key, value in desired.items():
            if value is not None:
                out += _differing(live.get(key), value, "%s.%s" % (path, key))
        return out
    if isinstance(desired, list) and isinstance(live, list) and all(
            isinstance(d, dict) and (d.get("metadata") or {}).get("name") for d in desired + live):
        by_name = {d["metadata"]["name"]: d for d in live}
        out = []
        for entry in desired:
            name = entry["metadata"]["name"]
            if name not in by_name:
                out.append("%s[%s] (added)" % (path, name))
            else:
                out += _differing(by_name[name], entry, "%s[%s]" % (path, name))
        return out
    if desired != live and str(desired) != str(live):
        return ["%s (%s -> %s)" % (path, "unset" if live is None else live, desired)]
    return []


def refine(item, live, desired):
    """Name the fields under a refused ``spec`` that the change touches (the apiserver names only
    ``spec`` for a StatefulSet and a claim), from the live object and the desired one."""
    if item.field != "spec" or not live or not desired:
        return item
    keep = _STATEFULSET_MUTABLE if item.kind == "StatefulSet" else ("resources", "volumeAttributesClassName")
    item.changed = _differing(_spec_without(live, keep), _spec_without(desired, keep), "spec")
    return item


def _field_words(item):
    if item.changed:
        return ", ".join(item.changed)
    if item.kind == "StatefulSet" and item.field == "spec":
        return ("spec (a field other than replicas, ordinals, template, updateStrategy, "
                "persistentVolumeClaimRetentionPolicy, revisionHistoryLimit and minReadySeconds: "
                "volumeClaimTemplates, such as their storageClassName or size, selector, serviceName or "
                "podManagementPolicy)")
    return item.field


def explain(item, namespace, option="recreate_immutable"):
    """One sentence: which object and field, why it is immutable, and the two ways out (the caller
    puts the component's name in front, as for every failure of a component)."""
    why = _WHY.get(item.kind, "the apiserver allows this field to be set only at creation")
    return ("%s %s/%s cannot be changed in place: %s is immutable (%s). Revert the change, or set %s=true to "
            "delete and recreate the object (%s)"
            % (item.kind, namespace, item.name, _field_words(item), why, option,
               _RISK.get(item.kind, "the object is deleted and created again")))


def message(items, namespace, option="recreate_immutable"):
    return "; ".join(explain(item, namespace, option) for item in items)


def _ref(item, objects, namespace):
    """apiVersion and namespace from the rendered object, else the version of the group the apiserver named."""
    obj = item.rendered(objects)
    if obj is not None:
        return Ref.of(obj, namespace)
    if item.group == "":
        return Ref("v1", item.kind, namespace, item.name)
    api_version = _API_VERSIONS.get((item.group, item.kind))
    return Ref(api_version, item.kind, namespace, item.name) if api_version else None


def resolve(api, items, objects, namespace):
    """The Ref of every refused object, all resolved before any is deleted: the apiVersion and namespace from
    the rendered object of that kind and name (``objects``: the refused revision's first), else from the API
    group the apiserver named; cluster-scoped kinds lose the namespace. Raises KubeError naming the objects
    that cannot be resolved, so that none is deleted."""
    refs, unresolved = [], []
    for item in items:
        ref = _ref(item, objects, namespace)
        if ref is None:
            unresolved.append("%s %s (API group %s: no rendered object names its apiVersion)"
                              % (item.kind, item.name, item.group or "unknown"))
            continue
        try:
            if not api.namespaced(ref.api_version, ref.kind):
                ref.namespace = None
        except UnknownKind as exc:
            unresolved.append("%s %s (%s)" % (item.kind, item.name, exc))
            continue
        refs.append(ref)
    if unresolved:
        raise KubeError("cannot recreate %s: nothing was deleted" % "; ".join(unresolved))
    return refs


def propagation(kind):
    """How to delete an object to recreate it: a StatefulSet leaves its pods and claims behind."""
    return "Orphan" if kind == "StatefulSet" else "Background"


def recreate(api, refs, clock=time.monotonic, sleep=time.sleep, timeout=DELETE_TIMEOUT):
    """Delete each object and wait until it is gone, so the next apply creates it anew."""
    for ref in refs:
        api.delete(ref, propagation=propagation(ref.kind))
    deadline = clock() + timeout
    waiting = list(refs)
    while waiting:
        waiting = [ref for ref in waiting if api.get(ref) is not None]
        if not waiting:
            return
        if clock() >= deadline:
            raise KubeError("%s still exist %ds after their deletion (a finalizer holds them?): cannot recreate them"
                            % (", ".join(str(r) for r in waiting), timeout))
        sleep(0.25)


_STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds", "revisionHistoryLimit")


def _spec_without(obj, keys):
    return {k: v for k, v in ((obj or {}).get("spec") or {}).items() if k not in keys}


def _spec_field(obj, key):
    return ((obj or {}).get("spec") or {}).get(key)


# kind -> [(field, value of the field in an object)] the apiserver compares on update
_COMPARED = {
    "StatefulSet": [("spec", lambda o: _spec_without(o, _STATEFULSET_MUTABLE))],
    "Deployment": [("spec.selector", lambda o: _spec_field(o, "selector"))],
    "DaemonSet": [("spec.selector", lambda o: _spec_field(o, "selector"))],
    "ReplicaSet": [("spec.selector", lambda o: _spec_field(o, "selector"))],
    "Job": [("spec.template", lambda o: _spec_field(o, "template"))],
    "PersistentVolumeClaim": [("spec", lambda o: _spec_without(o, ("resources", "volumeAttributesClassName")))],
}


def predict(before, after):
    """The Immutable an update from ``before`` to ``after`` would be refused for (check mode: no server call).

    A Service's clusterIP counts only when both name one (an unset field is allocated, not changed)."""
    kind = (after or {}).get("kind")
    if not before or not after or kind != before.get("kind"):
        return []
    name = (after.get("metadata") or {}).get("name")
    group = group_of(after["apiVersion"]) if after.get("apiVersion") else None
    out = [Immutable(kind, name, field, "would be refused", group) for field, value in _COMPARED.get(kind, [])
           if value(before) != value(after)]
    if kind == "Service":
        old, new = _spec_field(before, "clusterIP"), _spec_field(after, "clusterIP")
        if old and new and old != new:
            out.append(Immutable(kind, name, "spec.clusterIP", "would be refused", group))
    return out
