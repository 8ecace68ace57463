# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy one component (a Helm release or a set of manifests) and judge its health.

This is the whole behaviour of the ``release`` module; ``waves`` calls it once per component.
The result is a plain dict (the module's return values) with ``failed`` and ``msg`` on failure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time

from ansible_collections.homelab.observability.plugins.module_utils.helm import mirror
from ansible_collections.homelab.observability.plugins.module_utils.helm import release as hr
from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import Helm, HelmError, last_deployed
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube import manifests as mf
from ansible_collections.homelab.observability.plugins.module_utils.kube.diagnose import Diagnoser
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter, overall


def utcnow():
    return datetime.datetime.now(datetime.UTC)


def iso(ts):
    return ts.isoformat().replace("+00:00", "Z")


class Timer:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.started = utcnow()
        self.t0 = clock()
        self.phases = {}
        self._mark = self.t0

    def lap(self, phase):
        now = self.clock()
        self.phases[phase] = round(self.phases.get(phase, 0.0) + now - self._mark, 3)
        self._mark = now

    def result(self):
        finished = utcnow()
        out = {
            "started_at": iso(self.started),
            "finished_at": iso(finished),
            "duration": round(self.clock() - self.t0, 3),
        }
        out.update(self.phases)
        return out


def _result():
    return {
        "changed": False,
        "diff": [],
        "resources": [],
        "health": h.UNKNOWN,
        "diagnosis": [],
        "revision": None,
        "timing": {},
    }


def _server_version(api):
    try:
        return (api.request("GET", "/version") or {}).get("gitVersion")
    except KubeError:
        return None


def _health_gate(result, api, waiter, refs, *, params, check_mode):
    """Fill resources/health/diagnosis; (healthy, final) where final says waiting stopped on a final cause."""
    if check_mode or not params.get("wait", True):
        observations = waiter.observe(refs)
        done = all(o.health.status == h.HEALTHY for o in observations)
    else:
        observations, done = waiter.wait(refs, params.get("wait_timeout") or 600)
    result["resources"] = [o.as_dict() for o in observations]
    result["health"] = overall(observations)
    if result["health"] != h.HEALTHY and not check_mode:
        result["diagnosis"] = Diagnoser(api).diagnose(observations)
    return done, any(o.health.final and o.health.status != h.HEALTHY for o in observations)


def _unhealthy_msg(name, params, result, final):
    # a final cause stops the wait at once: "after 600s" would send the reader looking at the timeout
    when = "failed (waiting cannot fix it)" if final else "not healthy after %ss" % params.get("wait_timeout")
    return "%s: %s: %s" % (name, when, "; ".join(result["diagnosis"][:5]))


def deploy(params, api, check_mode=False, helm=None, waiter=None):
    """Converge one component; never raises for expected failures (they come back as failed/msg)."""
    timer = Timer()
    result = _result()
    waiter = waiter or Waiter(api)
    try:
        if params.get("chart"):
            helm = helm or Helm(params.get("binary_path") or "helm", params)
            try:
                _deploy_helm(params, api, helm, waiter, check_mode=check_mode, result=result, timer=timer)
            finally:
                helm.close()
        else:
            _deploy_manifests(params, api, waiter, check_mode=check_mode, result=result, timer=timer)
    except KubeError as exc:
        result["failed"] = True
        result["msg"] = "%s: %s" % (params.get("name"), exc)
    result["timing"] = timer.result()
    return result


def _deploy_manifests(params, api, waiter, *, check_mode, result, timer):
    namespace = params["namespace"]
    objs = mf.load(params.get("manifests"), params.get("manifest_files"))
    if params.get("state") == "absent":
        changes = mf.remove(api, objs, namespace, check_mode)
        timer.lap("apply")
        result["changed"] = bool(changes)
        result["diff"] = [c.diff() for c in changes]
        result["health"] = h.MISSING
        return
    changes = mf.converge(api, waiter, objs, namespace, create_namespace=params.get("create_namespace", True),
                          check_mode=check_mode)
    timer.lap("apply")
    result["changed"] = any(c.action != "none" for c in changes)
    result["diff"] = [c.diff() for c in changes if c.action != "none"]
    refs = mf.refs_of(api, objs, namespace)
    healthy, final = _health_gate(result, api, waiter, refs, params=params, check_mode=check_mode)
    timer.lap("wait")
    if not healthy and not check_mode and params.get("wait", True):
        result["failed"] = True
        result["msg"] = _unhealthy_msg(params["name"], params, result, final)


def _deploy_helm(params, api, helm, waiter, *, check_mode, result, timer):
    name, namespace = params["name"], params["namespace"]
    if not params["chart"].get("ref"):
        raise KubeError("chart.ref is required: a chart name in chart.repo_url, an oci:// reference or a local path")
    chart = mirror.resolve(params["chart"], params.get("chart_mirror"))
    helm.major()
    if params.get("state") == "absent":
        current = helm.status(name, namespace)
        timer.lap("plan")
        if current is None:
            result["health"] = h.MISSING
            return
        result["changed"] = True
        result["diff"] = hr.public_diff(hr.manifest_changes(hr.parse_manifest(current.get("manifest")), [],
                                                            namespace))
        if not check_mode:
            helm.uninstall(name, namespace, wait=params.get("wait", True))
        timer.lap("apply")
        result["health"] = h.MISSING
        return
    values = hr.merged_values(params.get("values_files"), params.get("values"))
    create_ns = params.get("create_namespace", True)
    plan = hr.plan_release(helm, name, namespace, chart, values, create_namespace=create_ns,
                           recover_pending=params.get("recover_pending", False), check_mode=check_mode,
                           kube_version=_server_version(api), api=api)
    timer.lap("plan")
    result["plan"] = {"action": plan.action, "reasons": list(plan.reasons)}
    if plan.note:
        result["plan"]["note"] = plan.note
    result["changed"] = plan.action != "none" or plan.recover is not None
    result["revision"] = (plan.current or {}).get("version")
    before = plan.current
    previous = None
    if not check_mode:
        if plan.recover:
            kind, revision = plan.recover
            if kind == "rollback":
                helm.rollback(name, namespace, revision)
            else:
                helm.uninstall(name, namespace)
            # plan again against the recovered release (a server-side render is possible now)
            plan = hr.plan_release(helm, name, namespace, chart, values, create_namespace=create_ns,
                                   recover_pending=False, check_mode=False, api=api)
            result["plan"]["reasons"] += plan.reasons
            before = plan.current
        if plan.action != "none":
            if plan.current and not plan.recover:
                previous = last_deployed(plan.history) if params.get("rollback_on_failure") else None
            release = helm.upgrade(name, namespace, chart, values, create_namespace=create_ns)
            result["revision"] = release.get("version")
            # what was really stored is the plan now: the diff and the objects to gate on come from it
            plan.planned = release
            plan.planned_objects = hr.install_order(hr.parse_manifest(release.get("manifest")))
            plan.diff = hr.manifest_changes(hr.parse_manifest((before or {}).get("manifest")),
                                            plan.planned_objects, namespace)
            plan.current = before
    result["diff"] = hr.public_diff(plan.diff)
    vdiff = hr.values_diff(plan)
    if vdiff:
        result["diff"].insert(0, vdiff)
    timer.lap("apply")
    refs = mf.refs_of(api, plan.planned_objects, namespace)
    healthy, final = _health_gate(result, api, waiter, refs, params=params, check_mode=check_mode)
    timer.lap("wait")
    if healthy or check_mode or not params.get("wait", True):
        return
    result["failed"] = True
    msg = _unhealthy_msg(name, params, result, final)
    if params.get("rollback_on_failure") and plan.action != "none":
        try:
            if previous:
                helm.rollback(name, namespace, previous["revision"])
                msg += " (rolled back to revision %d)" % previous["revision"]
                result["rolled_back_to"] = previous["revision"]
            elif plan.action == "install":
                helm.uninstall(name, namespace)
                msg += " (the new release was uninstalled)"
                result["rolled_back_to"] = 0
        except HelmError as exc:
            msg += " (rollback failed: %s)" % exc
        timer.lap("rollback")
    result["msg"] = msg
