# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health of one Kubernetes object, one predicate per kind, with Argo CD's semantics.

Every predicate is a pure function of the object (a dict as the API returns it) and an optional
``context`` with facts that live in other objects (for a PersistentVolumeClaim: its StorageClass).
The result is a ``Health``: ``status`` is one of HEALTHY, PROGRESSING, DEGRADED, SUSPENDED,
MISSING, UNKNOWN; ``message`` says why in words a user can act on; ``final`` is true when waiting
longer cannot help (a failed Job, a Deployment past its progress deadline, a lost volume).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

HEALTHY = "Healthy"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
SUSPENDED = "Suspended"
MISSING = "Missing"
UNKNOWN = "Unknown"

STATUSES = (HEALTHY, PROGRESSING, DEGRADED, SUSPENDED, MISSING, UNKNOWN)
# Worst first: the overall health of a set of objects is the worst of its members.
_SEVERITY = {DEGRADED: 0, MISSING: 1, UNKNOWN: 2, PROGRESSING: 3, SUSPENDED: 4, HEALTHY: 5}


class Health:
    __slots__ = ("status", "message", "final")

    def __init__(self, status, message="", final=False):
        self.status = status
        self.message = message
        self.final = final

    def as_dict(self):
        return {"status": self.status, "message": self.message}

    def __eq__(self, other):
        return isinstance(other, Health) and (self.status, self.message) == (other.status, other.message)

    __hash__ = None

    def __repr__(self):
        return "Health(%s, %r)" % (self.status, self.message)


def worst(statuses):
    """The overall status of several objects: the worst one, Healthy when there are none."""
    statuses = list(statuses)
    if not statuses:
        return HEALTHY
    return min(statuses, key=lambda s: _SEVERITY.get(s, 2))


def group_of(api_version):
    return api_version.split("/", 1)[0] if "/" in (api_version or "") else ""


def condition(obj, ctype):
    """The status condition of type ``ctype``, or None."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def _generation_pending(obj):
    """True when the controller has not seen the latest spec yet."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return generation is not None and (observed is None or observed < generation)


def _replicas(obj):
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else replicas


def _counts(obj, *keys):
    """The status counters ``keys`` of ``obj``, 0 for those not reported."""
    status = obj.get("status") or {}
    return tuple(status.get(key) or 0 for key in keys)


def _is_true(cond):
    return bool(cond) and cond.get("status") == "True"


def _first_true(obj, ctypes):
    """The first of the conditions ``ctypes`` that is True, or None."""
    for ctype in ctypes:
        cond = condition(obj, ctype)
        if _is_true(cond):
            return cond
    return None


def _reason(cond, default=""):
    return cond.get("message") or cond.get("reason") or default


def deployment_health(obj, context=None):
    if (obj.get("spec") or {}).get("paused"):
        return Health(SUSPENDED, "deployment is paused")
    if _generation_pending(obj):
        return Health(PROGRESSING, "waiting for the rollout to be observed by the controller")
    progressing = condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(DEGRADED, "deployment %r exceeded its progress deadline" % obj["metadata"].get("name"), True)
    return _deployment_rollout(obj)


def _deployment_rollout(obj):
    """A rollout the controller has seen: new replicas created, old ones gone, new ones available."""
    want = _replicas(obj)
    updated, total, available = _counts(obj, "updatedReplicas", "replicas", "availableReplicas")
    if updated < want:
        return Health(PROGRESSING, "%d of %d new replicas have been updated" % (updated, want))
    if total > updated:
        return Health(PROGRESSING, "%d old replicas are pending termination" % (total - updated))
    if available < updated:
        return Health(PROGRESSING, "%d of %d updated replicas are available" % (available, updated))
    return Health(HEALTHY, "%d/%d replicas available" % (available, want))


def statefulset_health(obj, context=None):
    if _generation_pending(obj):
        return Health(PROGRESSING, "waiting for the statefulset spec update to be observed")
    want = _replicas(obj)
    (ready,) = _counts(obj, "readyReplicas")
    if ready < want:
        return Health(PROGRESSING, "%d of %d pods are ready" % (ready, want))
    strategy = (obj.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return Health(HEALTHY, "statefulset has the OnDelete update strategy: %d/%d ready" % (ready, want))
    partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
    if partition:
        return _partitioned_rollout(obj, want, partition)
    return _statefulset_revision(obj, ready, want)


def _partitioned_rollout(obj, want, partition):
    """Only the pods at or above the partition ordinal move to the new revision."""
    (updated,) = _counts(obj, "updatedReplicas")
    if updated < want - partition:
        return Health(PROGRESSING, "%d of %d pods updated (partition %d)" % (updated, want - partition, partition))
    return Health(HEALTHY, "partitioned roll out complete: %d new pods" % updated)


def _statefulset_revision(obj, ready, want):
    status = obj.get("status") or {}
    if status.get("updateRevision") and status.get("updateRevision") != status.get("currentRevision"):
        return Health(
            PROGRESSING,
            "waiting for the rolling update: %d of %d pods on the new revision"
            % (status.get("updatedReplicas") or 0, want),
        )
    return Health(HEALTHY, "%d/%d pods ready" % (ready, want))


def daemonset_health(obj, context=None):
    """Reads only the DaemonSet's status: the cost does not grow with the number of nodes."""
    if _generation_pending(obj):
        return Health(PROGRESSING, "waiting for the daemonset spec update to be observed")
    desired, updated, available = _counts(obj, "desiredNumberScheduled", "updatedNumberScheduled", "numberAvailable")
    if ((obj.get("spec") or {}).get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(HEALTHY, "daemonset has the OnDelete update strategy")
    if updated < desired:
        return Health(PROGRESSING, "%d of %d pods updated" % (updated, desired))
    if available < desired:
        return Health(PROGRESSING, "%d of %d updated pods are available" % (available, desired))
    return Health(HEALTHY, "%d/%d pods available" % (available, desired))


# the Job controller sets FailureTarget / SuccessCriteriaMet as soon as it decides, and Failed /
# Complete only once the remaining pods have terminated: either one is the verdict
_JOB_FAILED = ("Failed", "FailureTarget")
_JOB_COMPLETE = ("Complete", "SuccessCriteriaMet")


def job_health(obj, context=None):
    failed = _first_true(obj, _JOB_FAILED)
    if failed:
        return Health(DEGRADED, "job failed: %s" % _reason(failed, failed.get("type")), True)
    if _first_true(obj, _JOB_COMPLETE):
        return Health(HEALTHY, "job complete")
    if (obj.get("spec") or {}).get("suspend"):
        return Health(SUSPENDED, "job is suspended")
    return Health(PROGRESSING, "job running: %d active, %d succeeded, %d failed"
                  % _counts(obj, "active", "succeeded", "failed"))


def cronjob_health(obj, context=None):
    if (obj.get("spec") or {}).get("suspend"):
        return Health(SUSPENDED, "cronjob is suspended")
    return Health(HEALTHY, "cronjob scheduled")


def pvc_health(obj, context=None):
    """``context['storage_class']``: the claim's StorageClass (a dict), or None when it does not exist."""
    context = context or {}
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Bound":
        return Health(HEALTHY, "claim is bound")
    if phase == "Lost":
        return Health(DEGRADED, "claim lost its volume", True)
    storage_class = context.get("storage_class")
    if _waits_for_first_consumer(obj, storage_class):
        # Nothing asks for the volume yet: binding waits for a pod by design.
        return Health(HEALTHY, "waiting for the first consumer (StorageClass %s)" % storage_class["metadata"]["name"])
    class_name = (obj.get("spec") or {}).get("storageClassName")
    if "storage_class" in context and storage_class is None and class_name:
        return Health(PROGRESSING, "claim is %s: StorageClass %r does not exist" % (phase or "Pending", class_name))
    return Health(PROGRESSING, "claim is %s" % (phase or "Pending"))


def _waits_for_first_consumer(claim, storage_class):
    """The class delays binding and no pod has been scheduled with the claim yet."""
    if not storage_class or storage_class.get("volumeBindingMode") != "WaitForFirstConsumer":
        return False
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    return not annotations.get("volume.kubernetes.io/selected-node")


def service_health(obj, context=None):
    spec = obj.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return Health(HEALTHY, "")
    if ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return Health(HEALTHY, "load balancer address assigned")
    return Health(PROGRESSING, "waiting for a load balancer address")


def ingress_health(obj, context=None):
    if ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return Health(HEALTHY, "ingress address assigned")
    return Health(PROGRESSING, "waiting for the ingress controller to assign an address")


def crd_health(obj, context=None):
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return Health(PROGRESSING, "CRD is being deleted")
    names = condition(obj, "NamesAccepted")
    if names and names.get("status") == "False":
        return Health(DEGRADED, "CRD names not accepted: %s" % (names.get("message") or names.get("reason")), True)
    established = condition(obj, "Established")
    if _is_true(established) and (not names or _is_true(names)):
        return Health(HEALTHY, "CRD established")
    return Health(PROGRESSING, "waiting for the CRD to be established")


def apiservice_health(obj, context=None):
    cond = condition(obj, "Available")
    if _is_true(cond):
        return Health(HEALTHY, "API service available")
    if cond:
        return Health(PROGRESSING, "API service not available: %s" % (cond.get("message") or cond.get("reason") or ""))
    return Health(PROGRESSING, "waiting for the API service to report availability")


_POD_FATAL_WAITING = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
                      "CreateContainerConfigError", "CreateContainerError", "RunContainerError")


def pod_health(obj, context=None):
    status = obj.get("status") or {}
    phase = status.get("phase")
    if phase == "Succeeded":
        return Health(HEALTHY, "pod completed")
    if phase == "Failed":
        return Health(DEGRADED, status.get("message") or status.get("reason") or "pod failed", True)
    return _fatal_container(status) or _pod_progress(obj, phase)


def _fatal_container(status):
    """Degraded for the first container (init containers first) stuck in a state waiting cannot fix."""
    for cstatus in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cstatus.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _POD_FATAL_WAITING:
            return Health(
                DEGRADED,
                "container %s: %s %s" % (cstatus.get("name"), waiting["reason"], waiting.get("message") or ""),
            )
    return None


def _pod_progress(obj, phase):
    """A pod that has neither ended nor failed: ready, running to completion, unscheduled or starting."""
    running = phase == "Running"
    if running and _is_true(condition(obj, "Ready")):
        return Health(HEALTHY, "pod running and ready")
    if running and (obj.get("spec") or {}).get("restartPolicy") in ("OnFailure", "Never"):
        return Health(PROGRESSING, "pod running")
    scheduled = condition(obj, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        return Health(PROGRESSING, "pod not scheduled: %s" % (scheduled.get("message") or scheduled.get("reason")))
    return Health(PROGRESSING, "pod %s, not ready" % (phase or "Pending"))


def hpa_health(obj, context=None):
    for ctype in ("AbleToScale", "ScalingActive"):
        cond = condition(obj, ctype)
        if cond and cond.get("status") == "False" and cond.get("reason") not in ("ScalingDisabled",):
            return Health(DEGRADED, cond.get("message") or cond.get("reason"))
    return Health(HEALTHY, "")


def generic_health(obj, context=None):
    """Every kind without a predicate of its own: a Ready or Available condition decides, when there
    is one.

    Objects without such a condition (ConfigMap, Secret, ServiceMonitor, ...) have nothing to wait
    for and count as healthy, as in Argo CD, which has no health check for them. Custom resources
    whose controller reports status have predicates above (Argo CD's built-in checks), so an empty
    status never counts as done for them.
    """
    for ctype in ("Ready", "Available"):
        cond = condition(obj, ctype)
        if cond is not None:
            return _condition_health(obj, ctype, cond)
    phase = (obj.get("status") or {}).get("phase")
    if isinstance(phase, str) and phase.lower() in ("failed", "error"):
        return Health(DEGRADED, "phase %s" % phase)
    return Health(HEALTHY, "")


# words in a condition's reason that mean the controller gave up rather than is still working
_FAILING_REASON_WORDS = ("fail", "error", "invalid")


def _condition_health(obj, ctype, cond):
    if _cond_stale(obj, cond):
        return Health(PROGRESSING, "waiting for the %s condition to observe the latest spec" % ctype)
    if _is_true(cond):
        return Health(HEALTHY, cond.get("message") or "%s" % ctype)
    reason = cond.get("reason") or ""
    text = ("%s=%s %s %s" % (ctype, cond.get("status"), reason, cond.get("message") or "")).strip()
    if cond.get("status") == "False" and any(word in reason.lower() for word in _FAILING_REASON_WORDS):
        return Health(DEGRADED, text)
    return Health(PROGRESSING, text)


def operator_workload_health(obj, context=None):
    """Prometheus, Alertmanager, ThanosRuler, PrometheusAgent (monitoring.coreos.com), as Argo CD's
    built-in checks: Progressing until the operator reports ``Available``; ``Available=False`` is
    Degraded unless the reason is only that some pods are not ready yet. Available while
    ``status.updatedReplicas`` is below ``status.replicas`` is still Progressing (a rollout of the
    new spec is under way: the old pods answer with the old configuration). An empty status means no
    operator has looked at the object, which is never healthy."""
    cond = condition(obj, "Available")
    if cond is None:
        return Health(PROGRESSING, "waiting for the operator to report status (no Available condition yet)")
    if _cond_stale(obj, cond):
        return Health(PROGRESSING, "waiting for the operator to observe the latest spec")
    if not _is_true(cond):
        text = _reason(cond, "Available=%s" % cond.get("status"))
        return Health(PROGRESSING if cond.get("reason") == "SomePodsNotReady" else DEGRADED, text)
    return _operator_rollout(obj, context)


def _operator_rollout(obj, context):
    """Available: healthy once every pod runs the latest spec and the operator's StatefulSets rolled."""
    status = obj.get("status") or {}
    replicas, updated = status.get("replicas"), status.get("updatedReplicas")
    if isinstance(replicas, int) and isinstance(updated, int) and updated < replicas:
        # Available counts ready pods, old ones too: the pods still run the previous spec
        return Health(PROGRESSING, "%d of %d pods run the latest spec" % (updated, replicas))
    # the operator reports from the StatefulSets it wrote, which may not have rolled yet
    for sts in (context or {}).get("statefulsets") or []:
        rolled = statefulset_health(sts)
        if rolled.status != HEALTHY:
            return Health(PROGRESSING, "StatefulSet %s: %s" % ((sts.get("metadata") or {}).get("name"), rolled.message))
    return Health(HEALTHY, "all instances are available")


def external_secret_health(obj, context=None):
    """external-secrets.io ExternalSecret, as Argo CD: the Ready condition decides (for
    ``refreshPolicy: OnChange`` only one written since the last refresh)."""
    cond = condition(obj, "Ready")
    if cond is not None and not _ready_before_refresh(obj, cond):
        if cond.get("status") == "False":
            return Health(DEGRADED, _reason(cond, "Ready=False"))
        if _is_true(cond):
            return Health(HEALTHY, cond.get("message") or "")
    return Health(PROGRESSING, "waiting for the ExternalSecret to be synced")


def _ready_before_refresh(obj, cond):
    """With ``refreshPolicy: OnChange``, a Ready condition older than the last refresh is about the old data."""
    refresh = (obj.get("status") or {}).get("refreshTime")
    on_change = (obj.get("spec") or {}).get("refreshPolicy") == "OnChange"
    return bool(on_change and refresh and (cond.get("lastTransitionTime") or "") < refresh)


def vpa_health(obj, context=None):
    """autoscaling.k8s.io VerticalPodAutoscaler, as Argo CD: Degraded when no pod matches, Healthy
    once the recommender provided a recommendation, Progressing before."""
    matched = condition(obj, "NoPodsMatched")
    if _is_true(matched):
        return Health(DEGRADED, matched.get("message") or matched.get("reason") or "no pods match the VPA selector")
    provided = condition(obj, "RecommendationProvided")
    if _is_true(provided):
        return Health(HEALTHY, "recommendation provided")
    return Health(PROGRESSING, "waiting for a recommendation from the VPA recommender")


def _cond_stale(obj, cond):
    """The condition reports on an older generation of the spec than the current one."""
    observed = cond.get("observedGeneration")
    generation = (obj.get("metadata") or {}).get("generation")
    return observed is not None and generation is not None and observed < generation


# (group, kind) -> predicate
PREDICATES = {
    ("apps", "Deployment"): deployment_health,
    ("apps", "StatefulSet"): statefulset_health,
    ("apps", "DaemonSet"): daemonset_health,
    ("batch", "Job"): job_health,
    ("batch", "CronJob"): cronjob_health,
    ("", "PersistentVolumeClaim"): pvc_health,
    ("", "Service"): service_health,
    ("", "Pod"): pod_health,
    ("networking.k8s.io", "Ingress"): ingress_health,
    ("extensions", "Ingress"): ingress_health,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd_health,
    ("apiregistration.k8s.io", "APIService"): apiservice_health,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa_health,
    ("monitoring.coreos.com", "Prometheus"): operator_workload_health,
    ("monitoring.coreos.com", "Alertmanager"): operator_workload_health,
    ("monitoring.coreos.com", "ThanosRuler"): operator_workload_health,
    ("monitoring.coreos.com", "PrometheusAgent"): operator_workload_health,
    ("external-secrets.io", "ExternalSecret"): external_secret_health,
    ("autoscaling.k8s.io", "VerticalPodAutoscaler"): vpa_health,
}


def health(obj, context=None):
    """The Health of ``obj``; ``None`` stands for an object that does not exist."""
    if obj is None:
        return Health(MISSING, "object does not exist")
    try:
        predicate = PREDICATES.get((group_of(obj.get("apiVersion")), obj.get("kind")), generic_health)
        return predicate(obj, context)
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        return Health(UNKNOWN, "cannot assess %s: %s" % (obj.get("kind"), exc))


def needs_context(obj):
    """Names of the context facts the predicate of ``obj`` uses (the waiter fetches them)."""
    if obj and obj.get("kind") == "PersistentVolumeClaim" and group_of(obj.get("apiVersion")) == "":
        return ("storage_class",)
    if obj and (group_of(obj.get("apiVersion")), obj.get("kind")) in OPERATOR_STATEFULSETS:
        return ("statefulsets",)
    return ()


# the operator's own label on the StatefulSets it makes for an object (v0.6x and later)
OPERATOR_STATEFULSETS = {("monitoring.coreos.com", "Prometheus"), ("monitoring.coreos.com", "Alertmanager")}
OPERATOR_NAME_LABEL = "operator.prometheus.io/name"
