# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A component made of manifests: server-side apply what differs, prune what it no longer renders
(or delete it all), then gate on health.

Every object gets the component's labels (kube/inventory.py); live objects are read by one LIST
per kind, and pruning deletes only objects carrying all of those labels.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.deploy.gate import (
    health_gate,
    must_fail,
    unhealthy_msg,
)
from ansible_collections.homelab.observability.plugins.module_utils.kube import apply as ap
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube import immutable as im
from ansible_collections.homelab.observability.plugins.module_utils.kube import inventory as inv
from ansible_collections.homelab.observability.plugins.module_utils.kube import manifests as mf
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref


def deploy_manifests(run):
    objs = inv.stamp(mf.load(run.params.get("manifests"), run.params.get("manifest_files")), run.name, run.namespace)
    if run.params.get("state") == "absent":
        remove_objects(run, objs)
        return
    inventory = inv.Inventory(run.api, run.name, run.namespace)
    apply_objects(run, objs, inventory)
    if run.params.get("prune", True):
        prune_objects(run, objs, inventory)
    healthy, final = health_gate(run, objs)
    if must_fail(run, healthy):
        run.fail(unhealthy_msg(run, final))


def remove_objects(run, objs):
    changes = mf.remove(run.api, objs, run.namespace, run.check_mode)
    record = run.api.get(inv.record_ref(run.name, run.namespace))
    if record is not None and not run.check_mode:
        run.api.delete(inv.record_ref(run.name, run.namespace))
    run.timer.lap("apply")
    run.result["changed"] = bool(changes) or record is not None
    run.result["diff"] = [c.diff() for c in changes]
    run.result["health"] = h.MISSING


def apply_objects(run, objs, inventory):
    try:
        changes = mf.converge(run.api, run.waiter, objs, run.namespace, create_namespace=run.create_namespace,
                              check_mode=run.check_mode, get=inventory.get,
                              recreate=run.params.get("recreate_immutable", False))
    except im.ImmutableFieldError as exc:
        # the server's dry run refused it: the workloads were not applied, the live objects are as before
        raise im.ImmutableFieldError(im.message(exc.items, run.namespace) + " (the server's dry run "
                                     "refused it: nothing but namespaces and CRDs was applied)", exc.items) from exc
    run.timer.lap("apply")
    recreated = [str(c.ref) for c in changes if c.action == "recreate"]
    if recreated:
        run.result["recreated"] = recreated
    run.result["changed"] = any(c.action != "none" for c in changes)
    run.result["diff"] = [c.diff() for c in changes if c.action != "none"]


def prune_objects(run, objs, inventory):
    """Delete the component's labelled objects it applied before and no longer renders; the kinds it
    applied are recorded (a ConfigMap written only when they change), so a kind gone from the
    manifests altogether is listed too."""
    recorded = inv.recorded_kinds(run.api, run.name, run.namespace)
    current = inv.current_kinds(run.api, objs, run.namespace)
    keep = set()
    for obj in objs:
        group, kind, namespace, name = Ref.of(obj, run.namespace).key()
        # a cluster-scoped object is listed without the namespace a manifest may give it
        keep |= {(group, kind, namespace, name), (group, kind, "", name)}
    changes = inv.plan_prune(inventory, recorded | current, keep)
    if not run.check_mode:
        for change in changes:
            ap.execute(run.api, change)
        if current != recorded:
            inv.record(run.api, run.name, run.namespace, current)
    run.timer.lap("prune")
    if changes:
        run.result["changed"] = True
        run.result["diff"] += [c.diff() for c in changes]
    run.result["pruned"] = [{"kind": c.ref.kind, "namespace": c.ref.namespace, "name": c.ref.name} for c in changes]
