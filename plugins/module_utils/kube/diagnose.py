# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why an object is not healthy: the object, its pods, their events, their volume claims.

The ``explain_*`` functions are pure (they read dicts); ``diagnose`` fetches what they need, with
a bounded number of requests (a few pods per workload, never every pod of a DaemonSet, one LIST of
Warning events per namespace).

Only current evidence is quoted: a StatefulSet's pod keeps its name across recreations, so an
event counts only when its involvedObject.uid is the live object's UID and it is not older than
the object's creation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref

MAX_PODS = 3
MAX_POD_LIST = 50
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
# objects only a Prometheus Operator turns into workloads; its Deployment carries the upstream
# component label (the operator's own manifests, kube-prometheus and the community chart)
OPERATED_GROUP = "monitoring.coreos.com/"
OPERATOR_SELECTOR = "app.kubernetes.io/component=prometheus-operator"


def explain_pod(pod):
    """Reasons a pod is not ready, most telling first."""
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    containers = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    reasons = [_explain_unschedulable(pod, name)] + [_explain_container(name, c) for c in containers]
    if status.get("phase") == "Failed":
        reasons.append("pod %s failed: %s" % (name, status.get("message") or status.get("reason") or ""))
    return [r.strip() for r in reasons if r]


def _explain_unschedulable(pod, name):
    scheduled = h.condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        why = scheduled.get("message") or scheduled.get("reason") or "no reason given"
        return "pod %s is unschedulable: %s" % (name, why)
    return None


_IMAGE_PULL = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")
# waiting reasons of a container that is starting normally: nothing to explain
_STARTING = ("ContainerCreating", "PodInitializing")


def _explain_container(pod_name, cstatus):
    """Why one container of ``pod_name`` is not ready, or None when its state says nothing."""
    subject = "pod %s container %s" % (pod_name, cstatus.get("name"))
    state = cstatus.get("state") or {}
    waiting = state.get("waiting") or {}
    reason = waiting.get("reason")
    if reason == "CrashLoopBackOff":
        return _explain_crash_loop(subject, cstatus)
    if reason in _IMAGE_PULL:
        image = cstatus.get("image") or ""
        return "%s cannot pull its image %s: %s" % (subject, image, waiting.get("message") or reason)
    if reason and reason not in _STARTING:
        return "%s is waiting: %s %s" % (subject, reason, waiting.get("message") or "")
    if state.get("running") and not cstatus.get("ready"):
        return "%s is running but not ready (readiness probe)" % subject
    return None


def _explain_crash_loop(subject, cstatus):
    """The restart count and, when the kubelet kept it, how the last run ended."""
    text = "%s is crash looping (%d restarts)" % (subject, cstatus.get("restartCount") or 0)
    last = (cstatus.get("lastState") or {}).get("terminated") or {}
    if last:
        text += "; last exit code %s (%s)" % (last.get("exitCode"), last.get("reason") or "Error")
        if last.get("message"):
            text += ": %s" % last["message"].strip()
    return text


def _event_time(ev):
    series = ev.get("series") or {}
    return ev.get("lastTimestamp") or series.get("lastObservedTime") or ev.get("eventTime") or ""


def current_events(events, kind, name, meta=None):
    """The events of object ``kind``/``name`` that are about its live incarnation ``meta`` (when given):
    same UID, and not older than its creation (RFC 3339 UTC times compare as strings)."""
    meta = meta or {}
    uid, created = meta.get("uid"), meta.get("creationTimestamp") or ""
    out = []
    for ev in events:
        involved = ev.get("involvedObject") or {}
        if involved.get("kind") != kind or involved.get("name") != name:
            continue
        if uid and involved.get("uid") and involved["uid"] != uid:
            continue
        if created and _event_time(ev)[:19] < created[:19]:
            continue
        out.append(ev)
    return out


def explain_events(events, subject):
    """Warning events, newest last, deduplicated by reason and message."""
    seen = set()
    out = []
    for ev in sorted(events, key=_event_time):
        if ev.get("type") != "Warning":
            continue
        key = (ev.get("reason"), ev.get("message"))
        if key in seen:
            continue
        seen.add(key)
        out.append("%s: event %s: %s" % (subject, ev.get("reason"), (ev.get("message") or "").strip()))
    return out


def explain_pvc(pvc, storage_class, default_class=None):
    """Why a claim stays Pending; ``storage_class`` is the named class or None when it does not exist."""
    name = "PersistentVolumeClaim %s/%s" % (pvc["metadata"].get("namespace"), pvc["metadata"]["name"])
    phase = (pvc.get("status") or {}).get("phase") or "Pending"
    if phase == "Bound":
        return []
    class_name = (pvc.get("spec") or {}).get("storageClassName")
    if class_name is None:
        if default_class is None:
            return ["%s is %s: it names no StorageClass and the cluster has no default StorageClass" % (name, phase)]
        return ["%s is %s (default StorageClass %s)" % (name, phase, default_class["metadata"]["name"])]
    if class_name == "":
        return ['%s is %s: it waits for a PersistentVolume created by hand (storageClassName "")' % (name, phase)]
    if storage_class is None:
        return ["%s is %s: StorageClass %r does not exist" % (name, phase, class_name)]
    return ["%s is %s (StorageClass %s, provisioner %s)" % (name, phase, class_name, storage_class.get("provisioner"))]


def _selector(obj):
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join("%s=%s" % kv for kv in sorted(labels.items()))


def _pod_is_ready(pod):
    if (pod.get("status") or {}).get("phase") == "Succeeded":
        return True
    ready = h.condition(pod, "Ready")
    return bool(ready and ready.get("status") == "True")


def explain_operators(deployments):
    """Why no Prometheus Operator would reconcile, from its Deployments; empty when one runs."""
    if not deployments:
        return ["no Prometheus Operator Deployment exists (label %s): nothing turns Prometheus and Alertmanager "
                "objects into workloads" % OPERATOR_SELECTOR]
    lines = []
    for dep in deployments:
        meta, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
        wanted, available = spec.get("replicas", 1), status.get("availableReplicas") or 0
        if available:
            return []
        where = "Deployment %s/%s" % (meta.get("namespace"), meta.get("name"))
        if wanted == 0:
            lines.append("the Prometheus Operator is scaled to 0 (%s spec.replicas=0): nothing reconciles the "
                         "Prometheus and Alertmanager objects; scale it back up" % where)
        else:
            lines.append("the Prometheus Operator has no available pod (%s, 0 of %d available)" % (where, wanted))
    return lines


class Diagnoser:
    def __init__(self, api):
        self.api = api
        self._events = {}

    def operators(self):
        return explain_operators(self.api.list("apps/v1", "Deployment", label_selector=OPERATOR_SELECTOR))

    def events(self, kind, namespace, name, meta=None):
        """Warning events of one object's live incarnation (``meta``: its metadata, for UID and creation)."""
        if namespace not in self._events:
            self._events[namespace] = self.api.list("v1", "Event", namespace=namespace, field_selector="type=Warning")
        return current_events(self._events[namespace], kind, name, meta)

    def own_events(self, obs):
        return self.events(obs.ref.kind, obs.ref.namespace, obs.ref.name, obs.obj.get("metadata"))

    def pvc(self, namespace, name):
        pvc = self.api.get(Ref("v1", "PersistentVolumeClaim", namespace, name))
        if pvc is None:
            return ["PersistentVolumeClaim %s/%s does not exist" % (namespace, name)]
        return self._pvc_lines(pvc)

    def _pvc_lines(self, pvc):
        if (pvc.get("status") or {}).get("phase") == "Bound":
            return []
        class_name = (pvc.get("spec") or {}).get("storageClassName")
        storage_class = default = None
        if class_name:
            storage_class = self.api.get(Ref("storage.k8s.io/v1", "StorageClass", None, class_name))
        elif class_name is None:
            for sc in self.api.list("storage.k8s.io/v1", "StorageClass"):
                annotations = (sc.get("metadata") or {}).get("annotations") or {}
                if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
                    default = sc
        meta = pvc["metadata"]
        subject = "PersistentVolumeClaim %s/%s" % (meta.get("namespace"), meta["name"])
        return explain_pvc(pvc, storage_class, default) + explain_events(
            self.events("PersistentVolumeClaim", meta.get("namespace"), meta["name"], meta), subject
        )

    def pods(self, obj):
        meta = obj["metadata"]
        selector = _selector(obj)
        if not selector:
            return []
        pods = self.api.list("v1", "Pod", namespace=meta.get("namespace"), label_selector=selector, limit=MAX_POD_LIST)
        lines = []
        if not pods:
            lines.append("%s %s/%s has no pods yet" % (obj["kind"], meta.get("namespace"), meta["name"]))
        claims_seen = set()
        for pod in [p for p in pods if not _pod_is_ready(p)][:MAX_PODS]:
            pname = pod["metadata"]["name"]
            pod_lines = explain_pod(pod)
            pod_lines += explain_events(self.events("Pod", meta.get("namespace"), pname, pod["metadata"]),
                                        "pod %s" % pname)
            pod_lines += self._claims(pod, meta.get("namespace"), claims_seen)
            lines.extend(pod_lines or ["pod %s is not ready" % pname])
        return lines

    def _claims(self, pod, namespace, claims_seen):
        """Lines about the pod's volume claims not already explained for another pod (``claims_seen``)."""
        lines = []
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and claim not in claims_seen:
                claims_seen.add(claim)
                lines += self.pvc(namespace, claim)
        return lines

    def diagnose(self, observations):
        """Strings naming each object that is not healthy and the cause found."""
        out = []
        operators_seen = []  # one look at the operator for all the objects it would reconcile
        for obs in observations:
            if obs.health.status == h.HEALTHY:
                continue
            out.append("%s is %s: %s" % (obs.ref, obs.health.status, obs.health.message))
            if obs.obj is None:
                continue
            try:
                if obs.ref.kind in WORKLOADS:
                    out.extend(explain_events(self.own_events(obs), str(obs.ref)))
                    out.extend(self.pods(obs.obj))
                elif obs.ref.kind == "PersistentVolumeClaim":
                    out.extend(self._pvc_lines(obs.obj))
                elif (obs.ref.api_version or "").startswith(OPERATED_GROUP) and not operators_seen:
                    operators_seen.append(True)
                    out.extend(self.operators())
                    out.extend(explain_events(self.own_events(obs), str(obs.ref)))
                elif obs.ref.kind == "Pod":
                    out.extend(explain_pod(obs.obj))
                    out.extend(explain_events(self.own_events(obs), str(obs.ref)))
                else:
                    out.extend(explain_events(self.own_events(obs), str(obs.ref)))
            except KubeError as exc:
                out.append("%s: diagnosis incomplete: %s" % (obs.ref, exc))
        return out
