# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Polls a set of objects until every one is healthy, a final failure shows, or time runs out.

One poll costs one GET per object (plus one GET per distinct StorageClass, cached for the run;
a claim on a class that does not exist is a final failure, kube/storage.py):
a DaemonSet on 1000 nodes costs what it costs on one. While a workload is not healthy, a poll also
lists its pods and reads their nodes once (kube/nodes.py): a pod on a node not Ready for longer
than ``node_grace`` seconds is a final failure. The clock is monotonic; the poll interval
starts short (most objects in a homelab settle in a second or two) and backs off.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.nodes import DEFAULT_GRACE, NodeWatch
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import UnknownKind
from ansible_collections.homelab.observability.plugins.module_utils.kube.storage import StorageClasses

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
    def __init__(self, api, clock=time.monotonic, sleep=time.sleep, node_grace=DEFAULT_GRACE, now=None):
        self.api = api
        self.clock = clock
        self.sleep = sleep
        self.classes = StorageClasses(api)
        self.nodes = NodeWatch(api, node_grace, clock, now)
        self.polls = 0

    def observe_one(self, ref):
        try:
            obj = self.api.get(ref)
        except UnknownKind as exc:
            return Observation(ref, None, h.Health(h.MISSING, str(exc)))
        context = self._context(obj)
        health = h.health(obj, context)
        if obj is not None and health.status != h.HEALTHY and not health.final:
            # a claim on a class that does not exist never binds: say so now, not at the timeout
            health = self.classes.missing(obj) or health
        return Observation(ref, obj, health)

    def _context(self, obj):
        """The facts from other objects the predicate of ``obj`` reads (h.needs_context)."""
        needs = h.needs_context(obj)
        context = {}
        if "storage_class" in needs and (obj.get("status") or {}).get("phase") != "Bound":
            context["storage_class"] = self.classes.get((obj.get("spec") or {}).get("storageClassName"))
        if "statefulsets" in needs:
            meta = obj.get("metadata") or {}
            context["statefulsets"] = self.api.list("apps/v1", "StatefulSet", namespace=meta.get("namespace"),
                                                    label_selector="%s=%s" % (h.OPERATOR_NAME_LABEL, meta.get("name")))
        return context

    def observe(self, refs):
        self.polls += 1
        observations = [self.observe_one(ref) for ref in refs]
        lost = self.nodes.judge(observations)
        for obs in observations:
            obs.health = lost.get(obs.ref, obs.health)
        return observations

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
