# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks on VPA/Goldilocks: a VPA with updateMode Off for every Deployment and StatefulSet outside
the excluded namespaces, none inside them, and recommendations once the recommender has data.

Check names: ``vpa.coverage``, ``vpa.excluded``, ``vpa.recommendations``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import time

from ansible_collections.homelab.observability.plugins.module_utils.probes import kubeapi
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed, CheckSkipped

VPA_PATH = "/apis/autoscaling.k8s.io/v1/verticalpodautoscalers"
WORKLOAD_PATHS = (("Deployment", "/apis/apps/v1/deployments"), ("StatefulSet", "/apis/apps/v1/statefulsets"))
LIST_AT_MOST = 5


def _listed(items):
    items = list(items)
    shown = ", ".join(items[:LIST_AT_MOST])
    return shown + (" and %d more" % (len(items) - LIST_AT_MOST) if len(items) > LIST_AT_MOST else "")


def _key(obj):
    meta = obj.get("metadata") or {}
    return "%s/%s" % (meta.get("namespace"), meta.get("name"))


def update_mode(vpa):
    # the VPA API's default update mode is Auto: a VPA without one would mutate pods
    return ((vpa.get("spec") or {}).get("updatePolicy") or {}).get("updateMode") or "Auto"


def target_of(kind, obj):
    """What a VPA for this workload targets: its controller when it has one (a StatefulSet of a
    Prometheus or Alertmanager belongs to that object), as Goldilocks targets the topmost controller
    and the recommender refuses a target that has one (ConfigUnsupported)."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("kind"), ref.get("name")
    return kind, meta.get("name")


def _by_target(vpas):
    """(namespace, kind, name) of the target -> the VPAs that point at it."""
    by_target = {}
    for vpa in vpas:
        ref = (vpa.get("spec") or {}).get("targetRef") or {}
        by_target.setdefault((_namespace(vpa), ref.get("kind"), ref.get("name")), []).append(vpa)
    return by_target


def coverage(workloads, vpas, excluded):
    """(missing, wrong_mode, covered): workloads without a VPA, VPAs not Off, count covered."""
    by_target = _by_target(vpas)
    missing, wrong, covered = [], [], 0
    for kind, obj in workloads:
        meta = obj.get("metadata") or {}
        if meta.get("namespace") in excluded:
            continue
        target = target_of(kind, obj)
        matches = by_target.get((meta.get("namespace"),) + target)
        if not matches:
            owned = "" if target == (kind, meta.get("name")) else " (a VPA must target its controller %s %s)" % target
            missing.append("%s %s%s" % (kind, _key(obj), owned))
            continue
        modes = [update_mode(v) for v in matches]
        if "Off" not in modes:
            wrong.append("%s (updateMode %s)" % (_key(matches[0]), modes[0]))
        else:
            covered += 1
    return missing, wrong, covered


def check_coverage(workloads, vpas, excluded):
    missing, wrong, covered = coverage(workloads, vpas, excluded)
    problems = []
    if missing:
        problems.append("%d workloads have no VPA: %s" % (len(missing), _listed(missing)))
    if wrong:
        problems.append("%d VPAs do not have updateMode Off: %s" % (len(wrong), _listed(wrong)))
    if problems:
        raise CheckFailed("; ".join(problems))
    if not covered:
        raise CheckSkipped("no Deployment or StatefulSet outside %s exists yet" % ", ".join(excluded))
    return "%d workloads covered by VPAs with updateMode Off" % covered


def check_excluded(vpas, excluded):
    inside = [_key(v) for v in vpas if _namespace(v) in excluded]
    if inside:
        raise CheckFailed("%d VPA(s) exist in excluded namespaces (%s): %s" % (
            len(inside), ", ".join(excluded), _listed(inside)))
    return "no VPA in %s" % ", ".join(excluded)


def _created(vpa):
    stamp = (vpa.get("metadata") or {}).get("creationTimestamp")
    try:
        return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        return None


def _namespace(vpa):
    return (vpa.get("metadata") or {}).get("namespace")


def _recommends(vpa):
    return bool(((vpa.get("status") or {}).get("recommendation") or {}).get("containerRecommendations"))


def _old_enough(vpa, grace, now):
    """A VPA of unknown age counts as old: waiting would not make it older."""
    created = _created(vpa)
    return created is None or now - created >= grace


def check_recommendations(vpas, excluded, grace, now):
    watched = [v for v in vpas if _namespace(v) not in excluded]
    due = [v for v in watched if _old_enough(v, grace, now)]
    if not due:
        return _early_recommendations(watched, grace)
    empty = [_key(v) for v in due if not _recommends(v)]
    if empty:
        raise CheckFailed("%d of %d VPAs older than %ds have no recommendation: %s (is the recommender running "
                          "and does metrics reach it?)" % (len(empty), len(due), grace, _listed(empty)))
    return "%d VPAs carry recommendations" % len(due)


def _early_recommendations(young, grace):
    """A young VPA with a recommendation already proves the recommender reads metrics and writes them."""
    early = [v for v in young if _recommends(v)]
    if early:
        return "%d of %d VPAs carry recommendations already (none is older than %ds yet)" % (
            len(early), len(young), grace)
    raise CheckSkipped("no VPA is older than %ds yet: the recommender has had no time to collect data" % grace)


def run_vpa(runner, apiserver_fn, *, excluded=("kube-node-lease", "kube-public"), grace=300, now_fn=time.time):
    state = {}

    def load():
        if "error" in state:
            raise state["error"]
        if "vpas" not in state:
            try:
                apiserver = apiserver_fn()
                try:
                    state["vpas"] = kubeapi.list_items(apiserver, VPA_PATH)
                except kubeapi.NotServed:
                    raise CheckFailed("the Kubernetes API does not serve autoscaling.k8s.io/v1 "
                                      "verticalpodautoscalers: the VPA CRDs are not installed") from None
                state["workloads"] = [(kind, obj) for kind, path in WORKLOAD_PATHS
                                      for obj in kubeapi.list_items(apiserver, path)]
            except Exception as exc:
                state["error"] = exc
                raise
        return state["vpas"], state["workloads"]

    excluded = list(excluded)
    runner.run("vpa.coverage", lambda: check_coverage(load()[1], load()[0], excluded))
    runner.run("vpa.excluded", lambda: check_excluded(load()[0], excluded))
    runner.run("vpa.recommendations", lambda: check_recommendations(load()[0], excluded, grace, now_fn()))
    return runner
