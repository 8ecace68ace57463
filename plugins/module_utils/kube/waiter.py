# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Polls a set of objects until every one is healthy, a final failure shows, or time runs out.

One poll costs one GET per object (plus one GET per distinct StorageClass, cached for the run):
a DaemonSet on 1000 nodes costs what it costs on one. The clock is monotonic; the poll interval
starts short (most objects in a homelab settle in a second or two) and backs off.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref, UnknownKind

FIRST_INTERVAL = 0.25
MAX_INTERVAL = 2.0


class Observation:
    __slots__ = ("ref", "obj", "health")

    def __init__(self, ref, obj, health):
        self.ref = ref
        self.obj = obj
        self.health = health

    def as_dict(self):
        return {
            "kind": self.ref.kind,
            "namespace": self.ref.namespace,
            "name": self.ref.name,
            "health": self.health.as_dict(),
        }


class Waiter:
    def __init__(self, api, clock=time.monotonic, sleep=time.sleep):
        self.api = api
        self.clock = clock
        self.sleep = sleep
        self._classes = {}
        self.polls = 0

    def _storage_class(self, pvc):
        name = (pvc.get("spec") or {}).get("storageClassName")
        if name is None:
            return self._default_class()
        if name not in self._classes:
            self._classes[name] = self.api.get(Ref("storage.k8s.io/v1", "StorageClass", None, name))
        return self._classes[name]

    def _default_class(self):
        if "" not in self._classes:
            found = None
            for sc in self.api.list("storage.k8s.io/v1", "StorageClass"):
                annotations = (sc.get("metadata") or {}).get("annotations") or {}
                if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
                    found = sc
            self._classes[""] = found
        return self._classes[""]

    def observe_one(self, ref):
        try:
            obj = self.api.get(ref)
        except UnknownKind as exc:
            return Observation(ref, None, h.Health(h.MISSING, str(exc)))
        context = {}
        if "storage_class" in h.needs_context(obj):
            phase = (obj.get("status") or {}).get("phase")
            if phase != "Bound":
                context["storage_class"] = self._storage_class(obj)
        return Observation(ref, obj, h.health(obj, context))

    def observe(self, refs):
        self.polls += 1
        return [self.observe_one(ref) for ref in refs]

    def wait(self, refs, timeout, accept=(h.HEALTHY,)):
        """Observations once all are in ``accept``, a final failure shows, or ``timeout`` seconds pass.

        Returns (observations, done) where done is True when every object reached ``accept``.
        """
        deadline = self.clock() + timeout
        interval = FIRST_INTERVAL
        pending = list(refs)
        settled = {}
        while True:
            for obs in self.observe(pending):
                settled[obs.ref] = obs
            pending = [ref for ref in pending if settled[ref].health.status not in accept]
            final = [ref for ref in pending if settled[ref].health.final]
            if not pending or final or self.clock() >= deadline:
                return [settled[ref] for ref in refs], not pending
            self.sleep(max(0.0, min(interval, deadline - self.clock())))
            interval = min(interval * 2, MAX_INTERVAL)


def overall(observations):
    return h.worst(obs.health.status for obs in observations)
