# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side apply of a set of manifests, writing only when something would change.

For each desired object the planner reads the live object (one GET, or through a caller's
``get``, such as kube/inventory.py's one LIST per kind). The object is unchanged
when the live copy carries our hash annotation for exactly this desired object and every field we
declare still holds its value (nobody drifted it). Otherwise a server-side dry-run apply shows
what the server would store; when that equals the live object (defaults, normalised quantities)
nothing is written either. Only real differences reach a non-dry-run apply.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import hashlib
import json
import re
from decimal import Decimal, InvalidOperation

from ansible_collections.homelab.observability.plugins.module_utils.kube import immutable as im
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import (
    KubeApiError,
    Ref,
    UnknownKind,
)

HASH_ANNOTATION = "homelab.observability/applied-sha256"
REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted, changed>"

# Install order, as Helm does it: what others depend on first.
KIND_ORDER = [
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
    "CronJob", "IngressClass", "Ingress", "APIService", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
]
_ORDER = {kind: i for i, kind in enumerate(KIND_ORDER)}

# Fields the server owns: never part of a comparison or a diff.
_VOLATILE_META = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")


def parse_documents(docs):
    """Flatten parsed YAML documents: drop empty ones, expand ``kind: List``; validate the basics."""
    out = []
    for doc in docs:
        if not doc:
            continue
        if not isinstance(doc, dict):
            raise KubeError("a manifest must be a mapping (a Kubernetes object), got %s" % type(doc).__name__)
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            out.extend(parse_documents(doc["items"]))
            continue
        missing = [f for f in ("apiVersion", "kind") if not doc.get(f)]
        if missing or not (doc.get("metadata") or {}).get("name"):
            raise KubeError(
                "manifest %s is missing %s: every object needs apiVersion, kind and metadata.name"
                % (json.dumps(doc)[:120], ", ".join(missing) or "metadata.name")
            )
        out.append(doc)
    return out


def install_order(objs):
    """Stable sort by Helm's install order; unknown kinds (custom resources) last."""
    return sorted(objs, key=lambda o: _ORDER.get(o.get("kind"), len(KIND_ORDER)))


def desired_hash(obj):
    clean = copy.deepcopy(obj)
    meta = clean.get("metadata") or {}
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(HASH_ANNOTATION, None)
        if not annotations:
            meta.pop("annotations")
    return hashlib.sha256(json.dumps(clean, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def with_hash(obj):
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    annotations = meta.get("annotations") or {}
    annotations[HASH_ANNOTATION] = desired_hash(obj)
    meta["annotations"] = annotations
    return out


_QUANTITY_PARENTS = ("requests", "limits", "capacity", "hard", "allocatable")
_QUANTITY_KEYS = ("storage", "sizeLimit")
_SUFFIX = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


def quantity(value):
    """A Kubernetes resource quantity as a Decimal, or None when it is not one."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    except InvalidOperation:
        return None


def contains(desired, live, key=None, parent=None):
    """True when every field of ``desired`` holds the same value in ``live`` (live may have more).

    Resource quantities compare by value (the server stores C(0.1) CPU as C(100m)), and an empty
    or zero field may be absent live (the API omits empty values when it serialises an object).
    """
    return difference(desired, live, "", key, parent) is None


def difference(desired, live, path="", key=None, parent=None):
    """The path (``spec.template.spec.containers[0].image``) of the first field of ``desired`` that
    ``live`` does not hold with the same value, or None when ``live`` contains ``desired``."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return path or "."
        for k, v in desired.items():
            sub = "%s.%s" % (path, k) if path else k
            if v is None or (k not in live and not v):
                continue
            found = sub if k not in live else difference(v, live[k], sub, k, key)
            if found:
                return found
        return None
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return path or "."
        for i, (d, lv) in enumerate(zip(desired, live, strict=True)):
            found = difference(d, lv, "%s[%d]" % (path, i), key, parent)
            if found:
                return found
        return None
    return None if _same_scalar(desired, live, key, parent) else (path or ".")


def _same_scalar(desired, live, key, parent):
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    if desired == live:
        return True
    if parent in _QUANTITY_PARENTS or key in _QUANTITY_KEYS:
        left, right = quantity(desired), quantity(live)
        return left is not None and left == right
    return False


def comparable(desired):
    """What the live object shows for ``desired``: a Secret's stringData is stored base64 in data."""
    if desired.get("kind") != "Secret" or not desired.get("stringData"):
        return desired
    out = copy.deepcopy(desired)
    data = out.get("data") or {}
    for key, value in out.pop("stringData").items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    out["data"] = data
    return out


def normalize(obj):
    """The object without server-owned bookkeeping, for comparisons and diffs."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    meta = out.get("metadata") or {}
    for field in _VOLATILE_META:
        meta.pop(field, None)
    out.pop("status", None)
    return out


def redact(obj, other=None):
    """A copy of ``obj`` with Secret values replaced; ``other`` (the other side of a diff) marks changes."""
    if obj is None or obj.get("kind") != "Secret":
        return obj
    out = copy.deepcopy(obj)
    other_data = {}
    if other is not None:
        other_data = dict(other.get("data") or {}, **(other.get("stringData") or {}))
    for field in ("data", "stringData"):
        values = out.get(field)
        if not isinstance(values, dict):
            continue
        for key in values:
            changed = other is not None and (key not in other_data or other_data[key] != values[key])
            values[key] = REDACTED_CHANGED if changed else REDACTED
    annotations = (out.get("metadata") or {}).get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return out


class Change:
    """The plan for one object: action is create, update, recreate (delete, then create), delete or none."""

    __slots__ = ("ref", "action", "desired", "before", "after", "note")

    def __init__(self, ref, action, desired=None, before=None, after=None, *, note=None):
        self.ref = ref
        self.action = action
        self.desired = desired
        self.before = before
        self.after = after
        self.note = note

    def diff(self):
        before = normalize(self.before)
        after = normalize(self.after)
        # Compare the raw values, then redact each side knowing the other.
        item = {
            "kind": self.ref.kind,
            "namespace": self.ref.namespace,
            "name": self.ref.name,
            "action": self.action,
            "before_header": "%s (live)" % self.ref,
            "after_header": "%s (%s)" % (self.ref, "planned" if self.action != "none" else "unchanged"),
            "before": redact(before, after) if before is not None else {},
            "after": redact(after, before) if after is not None else {},
        }
        if self.note:
            item["note"] = self.note
        return item


def _same(live, candidate):
    return normalize(live) == normalize(candidate)


def plan_object(api, desired, default_namespace=None, get=None, recreate=False):
    """A Change for one desired object; read-only (``get``, by default one GET, and dry-run applies).

    A change the server refuses as immutable raises ImmutableFieldError, or with ``recreate`` is
    planned as action recreate (delete, then apply)."""
    ref = Ref.of(desired, default_namespace)
    try:
        namespaced = api.namespaced(ref.api_version, ref.kind)
    except UnknownKind as exc:
        # Its CRD comes with this same set or an earlier wave that was not applied (check mode).
        return Change(ref, "create", desired, None, desired, note=str(exc))
    desired = _placed(ref, desired, namespaced)
    live = (get or api.get)(ref)
    stamped = with_hash(desired)
    if _unchanged_by_hash(live, desired, stamped):
        return Change(ref, "none", stamped, live, live)
    return _plan_by_dry_run(api, ref, stamped, live, recreate)


def _placed(ref, desired, namespaced):
    """A copy of ``desired`` in the namespace of ``ref`` (none for a cluster-scoped kind)."""
    if not namespaced:
        ref.namespace = None
    elif not ref.namespace:
        raise KubeError("%s %s is namespaced: set metadata.namespace or the task's namespace" % (ref.kind, ref.name))
    desired = copy.deepcopy(desired)
    if namespaced:
        desired.setdefault("metadata", {})["namespace"] = ref.namespace
    return desired


def _unchanged_by_hash(live, desired, stamped):
    """The live object carries the hash of ``desired`` and still holds every desired field: no dry-run needed."""
    if live is None:
        return False
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    return annotations.get(HASH_ANNOTATION) == desired_hash(desired) and contains(comparable(stamped), live)


def _plan_by_dry_run(api, ref, stamped, live, recreate=False):
    try:
        dry = api.apply(stamped, dry_run=True)
    except KubeApiError as exc:
        if live is None and exc.status == 404:
            # The namespace does not exist yet (it is created with the release, or by an earlier wave).
            note = "planned without a server dry-run: %s" % exc.api_message
            return Change(ref, "create", stamped, None, stamped, note=note)
        items = im.find(exc.api_message) if live is not None and exc.status == 422 else []
        items = [im.refine(item, live, stamped) if (item.kind, item.name) == (ref.kind, ref.name) else item
                 for item in items]
        if not items:
            raise
        if not recreate:
            raise im.ImmutableFieldError(str(exc), items) from exc
        note = "deleted (propagation %s) and created again, recreate_immutable: %s" % (
            im.propagation(ref.kind), "; ".join("%s is immutable" % item.field for item in items))
        return Change(ref, "recreate", stamped, live, stamped, note=note)
    if live is None:
        return Change(ref, "create", stamped, None, dry)
    if _same(live, dry):
        return Change(ref, "none", stamped, live, live)
    return Change(ref, "update", stamped, live, dry)


def plan(api, objects, default_namespace=None, get=None, recreate=False):
    return [plan_object(api, obj, default_namespace, get, recreate) for obj in install_order(objects)]


def execute(api, change):
    """Apply one planned change for real; returns the stored object."""
    if change.action == "recreate":
        im.recreate(api, [change.ref])
    if change.action in ("create", "update", "recreate"):
        return api.apply(change.desired)
    if change.action == "delete":
        return api.delete(change.ref)
    return change.after
