"""An in-memory stand-in for the API server (kube.resources.KubeApi), shared by the unit tests of kube/ and deploy/."""

import copy
import json
from collections import Counter

from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import (
    BUILTIN,
    KubeApiError,
    Ref,
    UnknownKind,
)


class FakeApi:
    """Objects keyed by Ref; apply merges like a (very) simplified server-side apply."""

    def __init__(self, objects=(), kinds=None):
        self.objects = {}
        self.counts = Counter()
        self.kinds = dict(BUILTIN)
        self.kinds.update(kinds or {})
        self.lists = {}
        self.list_calls = []
        self.list_resource_versions = []
        self.field_managers = []
        self.resource_version = 0
        # called with (verb, ref) before create, replace and delete: a test's other writer acts there
        self.on_write = None
        self.deleted = []  # (Ref, propagationPolicy) of every DELETE
        for obj in objects:
            self.put(obj)

    def put(self, obj):
        ref = Ref.of(obj)
        if not self.namespaced(ref.api_version, ref.kind):
            ref.namespace = None
        self.objects[ref] = copy.deepcopy(obj)

    def namespaced(self, api_version, kind):
        if (api_version, kind) not in self.kinds:
            raise UnknownKind("no kind %s" % kind)
        return self.kinds[(api_version, kind)][1]

    def resource(self, api_version, kind):
        self.namespaced(api_version, kind)
        return self.kinds[(api_version, kind)]

    def forget(self, api_version=None):
        pass

    def get(self, ref):
        self.counts["GET"] += 1
        self.namespaced(ref.api_version, ref.kind)
        return copy.deepcopy(self.objects.get(ref))

    def list(self, api_version, kind, namespace=None, *, label_selector=None, field_selector=None, limit=None,
             resource_version=None):
        self.counts["LIST"] += 1
        self.list_resource_versions.append((kind, resource_version))
        self.list_calls.append((api_version, kind, namespace, label_selector, field_selector))
        key = (kind, namespace, label_selector, field_selector)
        if key in self.lists:
            return copy.deepcopy(self.lists[key])
        self.namespaced(api_version, kind)
        return [copy.deepcopy(obj) for ref, obj in self.objects.items()
                if (ref.api_version, ref.kind) == (api_version, kind)
                and namespace in (None, ref.namespace) and _selected(obj, label_selector, field_selector)]

    def apply(self, obj, dry_run=False, field_manager="homelab.observability", **_):
        self.counts["PATCH-dry" if dry_run else "PATCH"] += 1
        if not dry_run:
            self.field_managers.append(field_manager)
        ref = Ref.of(obj)
        if ref.namespace and ("v1", "Namespace") and Ref("v1", "Namespace", None, ref.namespace) not in self.objects:
            raise KubeApiError(404, "NotFound", 'namespaces "%s" not found' % ref.namespace, "PATCH", "/")
        live = copy.deepcopy(self.objects.get(ref)) or {}
        merged = _merge(live, json.loads(json.dumps(obj)))
        merged.setdefault("metadata", {})["resourceVersion"] = "1"
        if not dry_run:
            self.objects[ref] = merged
        return copy.deepcopy(merged)

    def _next_version(self, obj):
        self.resource_version += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.resource_version)
        return obj

    def _hook(self, verb, ref):
        if self.on_write:
            self.on_write(verb, ref)

    def create(self, obj):
        """POST: 404 without the namespace, 409 (AlreadyExists) when the object exists."""
        self.counts["POST"] += 1
        ref = Ref.of(obj)
        self._hook("POST", ref)
        if not self.namespaced(ref.api_version, ref.kind):
            ref.namespace = None
        elif Ref("v1", "Namespace", None, ref.namespace) not in self.objects:
            raise KubeApiError(404, "NotFound", 'namespaces "%s" not found' % ref.namespace, "POST", "/")
        if ref in self.objects:
            raise KubeApiError(409, "AlreadyExists", "%s already exists" % ref, "POST", "/")
        stored = self._next_version(json.loads(json.dumps(obj)))
        self.objects[ref] = stored
        return copy.deepcopy(stored)

    def replace(self, obj):
        """PUT: 404 when missing, 409 (Conflict) when metadata.resourceVersion is not the stored one."""
        self.counts["PUT"] += 1
        ref = Ref.of(obj)
        self._hook("PUT", ref)
        live = self.objects.get(ref)
        if live is None:
            raise KubeApiError(404, "NotFound", "%s not found" % ref, "PUT", "/")
        wanted = (obj.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != live["metadata"].get("resourceVersion"):
            raise KubeApiError(409, "Conflict", "the object has been modified", "PUT", "/")
        stored = self._next_version(json.loads(json.dumps(obj)))
        self.objects[ref] = stored
        return copy.deepcopy(stored)

    def delete(self, ref, propagation="Background", resource_version=None):
        self.counts["DELETE"] += 1
        self._hook("DELETE", ref)
        live = self.objects.get(ref)
        if resource_version and live is not None and live["metadata"].get("resourceVersion") != resource_version:
            raise KubeApiError(409, "Conflict", "Precondition failed: UID in precondition", "DELETE", "/")
        self.deleted.append((ref, propagation))
        return self.objects.pop(ref, None)

    def writes(self):
        return self.counts["PATCH"] + self.counts["DELETE"] + self.counts["POST"] + self.counts["PUT"]


def _selected(obj, label_selector, field_selector):
    """Equality selectors only (k=v,...), as the code under test sends them."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    for pair in filter(None, (label_selector or "").split(",")):
        key, _, value = pair.partition("=")
        if labels.get(key) != value:
            return False
    for pair in filter(None, (field_selector or "").split(",")):
        key, _, value = pair.partition("=")
        if key == "metadata.name" and meta.get("name") != value:
            return False
    return True


def _merge(live, desired):
    out = dict(live)
    for key, value in desired.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
