# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pods the gate waits for on a node that is gone or not Ready: a final cause after a short grace.

A pod on a node whose kubelet stopped reporting (Ready ``Unknown``) or reports ``False`` does not
become ready there, and the node controller evicts it only after its taint toleration (300 s by
default), so the wave would wait its whole timeout. After ``grace`` seconds (the node-monitor
grace period's idea: 40 s by default) of the node not Ready, the gate stops and names the pod,
the node, the node's condition and since when. The time counts from the condition's
lastTransitionTime, or from when the gate first saw the node not Ready or gone, whichever is longer.

Cost: nothing while the workloads are healthy; per poll, one pod LIST per workload that is not
healthy and at most one node request (a GET for one node, else one LIST), none when those nodes
were read less than NODE_TTL seconds ago.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from datetime import UTC, datetime

from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApiError, Ref

DEFAULT_GRACE = 40
# nodes read within this many seconds are read again only for a node not seen yet: a DaemonSet
# not ready on 1000 nodes does not LIST them every 2 s poll
NODE_TTL = 5.0
MAX_PODS = 50
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def _parse_time(text):
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def not_ready(node):
    """(status, reason, message, since) when ``node`` is not Ready, None when it is; a missing node is
    ("gone", ...)."""
    if node is None:
        return ("gone", "NodeGone", "the Node object does not exist", None)
    ready = h.condition(node, "Ready") or {}
    if ready.get("status") == "True":
        return None
    return (ready.get("status") or "Unknown", ready.get("reason") or "", (ready.get("message") or "").strip(),
            ready.get("lastTransitionTime"))


def _pod_waits(pod):
    """A pod placed on a node and not ready; a terminating one is on its way out (a Deployment's old
    pod scaled down while its node is away) and does not hold the rollout."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed") or not (pod.get("spec") or {}).get("nodeName"):
        return False
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    ready = h.condition(pod, "Ready")
    return not (ready and ready.get("status") == "True")


def _selector(obj):
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join("%s=%s" % kv for kv in sorted(labels.items()))


class NodeWatch:
    def __init__(self, api, grace=DEFAULT_GRACE, clock=time.monotonic, now=None):
        self.api = api
        self.grace = DEFAULT_GRACE if grace is None else grace
        self.clock = clock
        self.now = now or (lambda: datetime.now(UTC))
        self.first_seen = {}
        self._cache = (None, {})
        # a user allowed its namespace but not the cluster's Nodes (or pods there): the check is an
        # early diagnosis, not a condition of the gate, so it stops for the run instead of failing it
        self.refused = None

    def _waiting_pods(self, obs):
        """The pods of an observed object that are placed on a node and not ready."""
        obj = obs.obj
        if obs.ref.kind == "Pod":
            return [obj] if _pod_waits(obj) else []
        selector = _selector(obj)
        if obs.ref.kind not in WORKLOADS or not selector:
            return []
        pods = self.api.list("v1", "Pod", namespace=obs.ref.namespace, label_selector=selector, limit=MAX_PODS)
        return [p for p in pods if _pod_waits(p)]

    def _nodes(self, names):
        """{name: Node or None} with one request (a GET for one node, a LIST for more), or none when
        every node was read in the last NODE_TTL seconds."""
        read_at, cached = self._cache
        if read_at is not None and self.clock() - read_at < NODE_TTL and names <= set(cached):
            return {name: cached[name] for name in names}
        self._cache = (self.clock(), self._read_nodes(names))
        return self._cache[1]

    def _read_nodes(self, names):
        if len(names) == 1:
            name = next(iter(names))
            return {name: self.api.get(Ref("v1", "Node", None, name))}
        # from the watch cache: a node seconds stale changes nothing against a 40 s grace, and a LIST of
        # 1000 Nodes every few seconds of a large rollout then costs etcd nothing
        found = {(n.get("metadata") or {}).get("name"): n for n in self.api.list("v1", "Node", resource_version="0")}
        return {name: found.get(name) for name in names}

    def _elapsed(self, name, since):
        first = self.first_seen.setdefault(name, self.clock())
        elapsed = self.clock() - first
        stamp = _parse_time(since)
        if stamp is not None:
            elapsed = max(elapsed, (self.now() - stamp).total_seconds())
        return elapsed

    def judge(self, observations):
        """{ref: final Health} for the unhealthy observations whose pods sit on a lost node."""
        if self.refused:
            return {}
        try:
            return self._judge(observations)
        except KubeApiError as exc:
            if exc.status != 403:
                raise
            self.refused = "the lost-node check is off for this run: %s" % exc
            return {}

    def _judge(self, observations):
        waiting = {}
        for obs in observations:
            if obs.obj is None or obs.health.status == h.HEALTHY or obs.health.final:
                continue
            pods = self._waiting_pods(obs)
            if pods:
                waiting[obs.ref] = pods
        if not waiting:
            return {}
        nodes = self._nodes({p["spec"]["nodeName"] for pods in waiting.values() for p in pods})
        lost = {name: state for name, state in ((n, not_ready(node)) for n, node in nodes.items()) if state}
        for name in [n for n in self.first_seen if n not in lost]:
            del self.first_seen[name]  # Ready again: a later loss starts a new grace
        out = {}
        for ref, pods in waiting.items():
            for pod in pods:
                name = pod["spec"]["nodeName"]
                if name in lost and self._elapsed(name, lost[name][3]) >= self.grace:
                    out[ref] = h.Health(h.DEGRADED, lost_message(ref, pod, name, lost[name],
                                                                 self._elapsed(name, lost[name][3])), True)
                    break
        return out


def lost_message(ref, pod, node, state, elapsed):
    status, reason, message, since = state
    pod_name = "%s/%s" % ((pod.get("metadata") or {}).get("namespace"), (pod.get("metadata") or {}).get("name"))
    owner = "" if ref.kind == "Pod" else " (of %s)" % ref
    if status == "gone":
        what = "node %s, which no longer exists" % node
    else:
        what = "node %s, which is not Ready (Ready=%s%s%s) since %s" % (
            node, status, ", reason %s" % reason if reason else "", ": %s" % message if message else "",
            since or "the gate first saw it")
    return ("pod %s%s waits on %s, for %ds: it cannot become ready there, and the node controller evicts it "
            "only after its toleration (300 s by default). Bring the node back, or cordon and drain it "
            "(kubectl drain %s --ignore-daemonsets --delete-emptydir-data) so the pod is rescheduled; a "
            "StatefulSet pod is only recreated once the old one is deleted (kubectl delete pod -n %s %s "
            "--force, once the node is known to be down)"
            % (pod_name, owner, what, elapsed, node, (pod.get("metadata") or {}).get("namespace"),
               (pod.get("metadata") or {}).get("name")))
