# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A component made of manifests: server-side apply what differs (or delete it), then gate on health."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.deploy.gate import (
    health_gate,
    must_fail,
    unhealthy_msg,
)
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube import immutable as im
from ansible_collections.homelab.observability.plugins.module_utils.kube import manifests as mf


def deploy_manifests(run):
    objs = mf.load(run.params.get("manifests"), run.params.get("manifest_files"))
    if run.params.get("state") == "absent":
        remove_objects(run, objs)
        return
    apply_objects(run, objs)
    healthy, final = health_gate(run, objs)
    if must_fail(run, healthy):
        run.fail(unhealthy_msg(run, final))


def remove_objects(run, objs):
    changes = mf.remove(run.api, objs, run.namespace, run.check_mode)
    run.timer.lap("apply")
    run.result["changed"] = bool(changes)
    run.result["diff"] = [c.diff() for c in changes]
    run.result["health"] = h.MISSING


def apply_objects(run, objs):
    try:
        changes = mf.converge(run.api, run.waiter, objs, run.namespace, create_namespace=run.create_namespace,
                              check_mode=run.check_mode, recreate=run.params.get("recreate_immutable", False))
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
