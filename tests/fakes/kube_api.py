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

    def list(self, api_version, kind, namespace=None, *, label_selector=None, field_selector=None, limit=None):
        self.counts["LIST"] += 1
        return copy.deepcopy(self.lists.get((kind, namespace, label_selector, field_selector), []))

    def apply(self, obj, dry_run=False, **_):
        self.counts["PATCH-dry" if dry_run else "PATCH"] += 1
        ref = Ref.of(obj)
        if ref.namespace and ("v1", "Namespace") and Ref("v1", "Namespace", None, ref.namespace) not in self.objects:
            raise KubeApiError(404, "NotFound", 'namespaces "%s" not found' % ref.namespace, "PATCH", "/")
        live = copy.deepcopy(self.objects.get(ref)) or {}
        merged = _merge(live, json.loads(json.dumps(obj)))
        merged.setdefault("metadata", {})["resourceVersion"] = "1"
        if not dry_run:
            self.objects[ref] = merged
        return copy.deepcopy(merged)

    def delete(self, ref, propagation="Background"):
        self.counts["DELETE"] += 1
        self.deleted.append((ref, propagation))
        return self.objects.pop(ref, None)

    def writes(self):
        return self.counts["PATCH"] + self.counts["DELETE"]


def _merge(live, desired):
    out = dict(live)
    for key, value in desired.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
