# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""StorageClasses as the health gate sees them: looked up once per run, and a claim on a class that
does not exist is a final failure.

A claim naming a missing class stays Pending forever (nothing provisions it), so waiting the whole
component timeout (up to 900 s) only delays the message. The claims may be the object itself (a
PersistentVolumeClaim), a StatefulSet's ``volumeClaimTemplates`` or the storage template of a
Prometheus Operator resource (the claims the operator's StatefulSet will make). One exception is
kept: a PersistentVolume made by hand with that class name can still bind the claim (static
provisioning needs no StorageClass object), so an Available one keeps the claim waiting.

Lookups cost one GET per distinct class name; the LISTs of classes and volumes are only made when
a class is missing (for the message and the exception) or no class is named (the default).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref

DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
OPERATOR_KINDS = ("Prometheus", "Alertmanager", "ThanosRuler")


def _claim_itself(obj):
    return [("the claim", (obj.get("spec") or {}).get("storageClassName"), None)]


def _statefulset_claims(obj):
    meta = obj.get("metadata") or {}
    out = []
    for template in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
        # the controller names claims <template>-<statefulset>-<ordinal>
        claim = Ref("v1", "PersistentVolumeClaim", meta.get("namespace"),
                    "%s-%s-0" % ((template.get("metadata") or {}).get("name"), meta.get("name")))
        out.append(("its claim %s" % claim, (template.get("spec") or {}).get("storageClassName"), claim))
    return out


def _operator_storage(obj):
    template = (((obj.get("spec") or {}).get("storage") or {}).get("volumeClaimTemplate")) or {}
    return [("its storage (spec.storage.volumeClaimTemplate)", (template.get("spec") or {}).get("storageClassName"),
             None)]


# (group, kind) -> the claims an object of that kind is or makes
_CLAIMS = {("", "PersistentVolumeClaim"): _claim_itself, ("apps", "StatefulSet"): _statefulset_claims}
_CLAIMS.update((("monitoring.coreos.com", kind), _operator_storage) for kind in OPERATOR_KINDS)


def requested(obj):
    """[(what, class name, claim Ref or None)] for each claim ``obj`` is or makes that names a class.

    ``what`` is for messages; the Ref is the first claim a StatefulSet makes (ordinal 0), which the
    gate reads before calling the class missing.
    """
    claims = _CLAIMS.get((h.group_of(obj.get("apiVersion") or ""), obj.get("kind")))
    return [entry for entry in (claims(obj) if claims else []) if entry[1]]


class StorageClasses:
    def __init__(self, api):
        self.api = api
        self._named = {}
        self._all = None
        self._volumes = None

    def get(self, name):
        """The class called ``name`` or None; None also means the cluster default when ``name`` is None."""
        if name is None:
            return self.default()
        if name not in self._named:
            self._named[name] = self.api.get(Ref("storage.k8s.io/v1", "StorageClass", None, name))
        return self._named[name]

    def all(self):
        if self._all is None:
            self._all = self.api.list("storage.k8s.io/v1", "StorageClass")
        return self._all

    def default(self):
        found = None
        for sc in self.all():
            if ((sc.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true":
                found = sc
        return found

    def _static_volume(self, name):
        """True when a hand-made PersistentVolume of class ``name`` is free to bind."""
        if self._volumes is None:
            self._volumes = self.api.list("v1", "PersistentVolume")
        return any((pv.get("spec") or {}).get("storageClassName") == name
                   and (pv.get("status") or {}).get("phase") == "Available" for pv in self._volumes)

    def _bound(self, claim):
        """A StatefulSet whose claim already exists and is bound does not wait for its class."""
        pvc = self.api.get(claim) if claim else None
        return bool(pvc) and (pvc.get("status") or {}).get("phase") == "Bound"

    def missing(self, obj):
        """A final Degraded health when ``obj`` waits on a class that does not exist, else None."""
        for what, name, claim in requested(obj):
            if self.get(name) is not None or self._static_volume(name) or self._bound(claim):
                continue
            existing = sorted((sc.get("metadata") or {}).get("name") for sc in self.all())
            return h.Health(h.DEGRADED, "%s names StorageClass %r, which does not exist (the cluster has: %s): set "
                            "the storage class of this component to one of them, or create %r"
                            % (what, name, ", ".join(existing) or "no StorageClass", name), True)
        return None
