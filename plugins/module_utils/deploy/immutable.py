# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Helm upgrade refused for an immutable field: explain it and put the release back, or, with
recreate_immutable, delete the refused objects (a StatefulSet orphaning its pods and claims) and
upgrade again.

Helm records the refused upgrade as a ``failed`` revision after patching the objects before the
refused one; rolling back to the revision deployed before the run puts those objects back too, so
the release is as it was, one revision later.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.helm import release as hr
from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import HelmError
from ansible_collections.homelab.observability.plugins.module_utils.kube import immutable as im

OPTION = "recreate_immutable"


def refused(exc):
    """The Immutable named in a helm error (empty for any other error)."""
    return im.find(getattr(exc, "stderr", "") or str(exc))


def _namespace_of(plan, item, default):
    for obj in plan.planned_objects or []:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == item.kind and meta.get("name") == item.name:
            return meta.get("namespace") or default
    return default


def refs(run, plan, items):
    return [item.ref(_namespace_of(plan, item, run.namespace)) for item in items]


def _refine(run, items):
    """Name the changed fields of a refused ``spec`` from the refused revision (helm stored it as
    failed) and the live object: one helm status and one GET per such object."""
    vague = [item for item in items if item.field == "spec"]
    if not vague:
        return
    try:
        refused_objs = hr.parse_manifest((run.helm.status(run.name, run.namespace) or {}).get("manifest"))
    except HelmError:
        return
    for item in vague:
        desired = next((o for o in refused_objs if o.get("kind") == item.kind
                        and (o.get("metadata") or {}).get("name") == item.name), None)
        if desired is not None:
            ref = item.ref((desired.get("metadata") or {}).get("namespace") or run.namespace)
            im.refine(item, run.api.get(ref), desired)


def after_refusal(run, plan, items, previous):
    """Without the option: roll back what helm changed and raise the explanation; with it: recreate
    the objects (the caller upgrades again)."""
    _refine(run, items)
    if run.params.get(OPTION):
        recreated = refs(run, plan, items)
        im.recreate(run.api, recreated)
        run.result["recreated"] = [str(ref) for ref in recreated]
        return
    raise im.ImmutableFieldError(im.message(items, run.namespace, OPTION) + _restore(run, previous), items)


def _restore(run, previous):
    if not previous:
        return " (helm left the release failed: it had no deployed revision to roll back to)"
    try:
        run.helm.rollback(run.name, run.namespace, previous["revision"])
    except HelmError as exc:
        return " (helm left the release failed; the rollback to revision %d failed too: %s)" % (
            previous["revision"], exc)
    run.result["rolled_back_to"] = previous["revision"]
    return (" (the release was rolled back to revision %d, what ran before this run: nothing changed)"
            % previous["revision"])


def predicted(run, plan):
    """Check mode: the objects the planned upgrade would be refused for, from the planned diff."""
    items = []
    for change in plan.diff or []:
        if change.get("action") == "update":
            items += im.predict(change.get("before"), change.get("after"))
    if not items:
        return
    run.result["immutable"] = [str(ref) for ref in refs(run, plan, items)]
    if run.params.get(OPTION):
        run.result["plan"]["reasons"].append(
            "would recreate %s (%s=true): %s" % (", ".join(run.result["immutable"]), OPTION, "; ".join(
                im.explain(item, run.namespace, OPTION) for item in items)))
    else:
        run.result["plan"]["reasons"].append("the upgrade would be refused: " + im.message(
            items, run.namespace, OPTION))
