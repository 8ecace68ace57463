# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A component from a Helm chart: plan, recover a pending release, upgrade or install, gate on
health, and roll back when the gate fails (rollback_on_failure); or uninstall (state absent).

Health is decided by the gate (deploy/gate.py over kube/waiter.py), never by helm's own --wait.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.homelab.observability.plugins.module_utils.deploy import immutable, rollback
from ansible_collections.homelab.observability.plugins.module_utils.deploy.gate import (
    health_gate,
    must_fail,
    unhealthy_msg,
)
from ansible_collections.homelab.observability.plugins.module_utils.helm import mirror
from ansible_collections.homelab.observability.plugins.module_utils.helm import release as hr
from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import HelmError
from ansible_collections.homelab.observability.plugins.module_utils.kube import drift as kd
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref


def deploy_chart(run):
    chart = chart_to_deploy(run.params)
    run.helm.major()
    if run.params.get("state") == "absent":
        uninstall_release(run)
    else:
        converge_release(run, chart)


def chart_to_deploy(params):
    if not params["chart"].get("ref"):
        raise KubeError("chart.ref is required: a chart name in chart.repo_url, an oci:// reference or a local path")
    return mirror.resolve(params["chart"], params.get("chart_mirror"))


def uninstall_release(run):
    current = run.helm.status(run.name, run.namespace)
    run.timer.lap("plan")
    if current is None:
        run.result["health"] = h.MISSING
        return
    run.result["changed"] = True
    run.result["diff"] = hr.public_diff(hr.manifest_changes(hr.parse_manifest(current.get("manifest")), [],
                                                            run.namespace))
    if not run.check_mode:
        run.helm.uninstall(run.name, run.namespace, wait=run.waits)
    run.timer.lap("apply")
    run.result["health"] = h.MISSING


def converge_release(run, chart):
    values = hr.merged_values(run.params.get("values_files"), run.params.get("values"))
    plan = plan_under_lock(run, chart, values)
    previous = None
    if not run.check_mode:
        if plan.recover:
            plan = recover_pending_release(run, plan, chart, values)
        if plan.action != "none":
            previous = rollback.target(plan)
            restore_edited(run, plan.drift)
            upgrade_release(run, plan, chart, values, previous)
    else:
        immutable.predicted(run, plan)
    report_diff(run, plan)
    healthy, final = health_gate(run, plan.planned_objects)
    if must_fail(run, healthy):
        run.fail(unhealthy_msg(run, final) + rollback.on_failure(run, plan, previous))


def plan_under_lock(run, chart, values):
    """The plan, made again once the run holds the deploy lock if it had to wait for another run's and took it
    after this plan began: that run's writes may have changed the release meanwhile (a plan begun after the
    take saw them). A pending release may be that run's helm at work, so it is judged only under the lock.
    Without a lock (the release module, check mode) the first look is the plan."""
    lock = getattr(run.api, "before_write", None)
    if lock is None or run.check_mode:
        return plan_release(run, chart, values)

    def taken_since(began):
        try:
            acquired = lock()  # kube/lease.py ``ensure``: monotonic time of a take after a wait, else None
        except KubeError:
            run.result["changed"] = False  # refused before its first write: the plan's change never happened
            raise
        return acquired is not None and acquired >= began
    began = time.monotonic()
    try:
        plan = plan_release(run, chart, values)
    except hr.PendingRelease:
        if not taken_since(began):
            raise
        return plan_release(run, chart, values)
    if (plan.action != "none" or plan.recover) and taken_since(began):
        plan = plan_release(run, chart, values)
    return plan


def plan_release(run, chart, values):
    """The plan of a first look; pending releases are refused unless recover_pending."""
    run.result.pop("drift", None)
    plan = hr.plan_release(run.helm, run.name, run.namespace, chart, values, create_namespace=run.create_namespace,
                           recover_pending=run.params.get("recover_pending", False), check_mode=run.check_mode,
                           kube_version=server_version(run.api), api=run.api)
    run.timer.lap("plan")
    run.result["plan"] = {"action": plan.action, "reasons": list(plan.reasons)}
    if plan.note:
        run.result["plan"]["note"] = plan.note
    run.result["changed"] = plan.action != "none" or plan.recover is not None
    run.result["revision"] = (plan.current or {}).get("version")
    if plan.drift:
        run.result["drift"] = [d.result() for d in plan.drift]
    return plan


def server_version(api):
    try:
        return api.version().get("gitVersion")
    except KubeError:
        return None


def recover_pending_release(run, plan, chart, values):
    """Roll back to the last deployed revision (or uninstall), then plan again against the recovered
    release: a server-side render is possible now."""
    kind, revision = plan.recover
    if kind == "rollback":
        run.helm.rollback(run.name, run.namespace, revision)
    else:
        run.helm.uninstall(run.name, run.namespace)
    recovered = hr.plan_release(run.helm, run.name, run.namespace, chart, values,
                                create_namespace=run.create_namespace, recover_pending=False, check_mode=False,
                                api=run.api)
    run.result["plan"]["reasons"] += recovered.reasons
    return recovered


def upgrade_release(run, plan, chart, values, previous=None):
    """helm upgrade --install; what was really stored is the plan now: the diff and the objects to
    gate on come from it. A change the apiserver refuses as immutable is explained and undone, or
    (recreate_immutable) the refused objects are recreated and the upgrade runs once more; when that
    fails too, the release is rolled back, which creates the deleted objects again."""
    try:
        release = run.helm.upgrade(run.name, run.namespace, chart, values, create_namespace=run.create_namespace)
    except HelmError as exc:
        items = immutable.refused(exc)
        if not items:
            raise
        immutable.after_refusal(run, plan, items, previous)
        try:
            release = run.helm.upgrade(run.name, run.namespace, chart, values,
                                       create_namespace=run.create_namespace)
        except HelmError as again:
            raise immutable.failed_again(run, plan, previous, again) from again
    run.result["revision"] = release.get("version")
    plan.planned = release
    plan.planned_objects = hr.install_order(hr.parse_manifest(release.get("manifest")))
    plan.diff = hr.manifest_changes(hr.parse_manifest((plan.current or {}).get("manifest")),
                                    plan.planned_objects, run.namespace)
    if plan.drift:
        repair_drift(run, plan)


def restore_edited(run, drifts):
    """Server-side apply the stored object of each drifted object that exists, as helm's own field manager.

    Helm 4 upgrades by server-side apply and refuses a field another manager (kubectl edit) changed;
    helm 3 patches CRDs and custom resources two-way and would leave the edit. Applied as helm, with
    force, the fields are helm's again, so the upgrade after (and later ones) meets no conflict."""
    edited = [d for d in drifts if d.live is not None]
    for drift in edited:
        run.api.apply(drift.desired, default_namespace=run.namespace, field_manager=helm_manager(drift.live))
    if edited:
        run.result["drift_applied"] = [d.result() for d in edited]


def helm_manager(live):
    """The field manager helm wrote ``live`` with (the helm binary's name), ``helm`` when none is recorded."""
    managers = [(f.get("operation") != "Apply", f.get("manager")) for f in
                (live.get("metadata") or {}).get("managedFields") or [] if str(f.get("manager", "")).startswith("helm")]
    return min(managers)[1] if managers else "helm"


def repair_drift(run, plan):
    """Apply what the upgrade left drifted (a missing object helm did not create again)."""
    stored = hr.parse_manifest(plan.planned.get("manifest"))
    # keyed as parsed (a cluster-scoped object keeps the release namespace on both sides)
    keys = {Ref.of(d.desired, run.namespace).key() for d in plan.drift}
    run.api.forget()  # the upgrade may have created CRDs again: their kinds are served now
    left = kd.find(run.api, [o for o in stored if Ref.of(o, run.namespace).key() in keys], run.namespace)
    for drift in left:
        run.api.apply(drift.desired, default_namespace=run.namespace,
                      field_manager=helm_manager(drift.live or {}))
    if left:
        run.result["drift_applied"] = run.result.get("drift_applied", []) + [d.result() for d in left]


def report_diff(run, plan):
    run.result["diff"] = hr.public_diff(plan.diff) + [d.diff() for d in plan.drift]
    vdiff = hr.values_diff(plan)
    if vdiff:
        run.result["diff"].insert(0, vdiff)
    run.timer.lap("apply")
