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

from ansible_collections.homelab.observability.plugins.module_utils.deploy import rollback
from ansible_collections.homelab.observability.plugins.module_utils.helm import release as hr
from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import HelmError
from ansible_collections.homelab.observability.plugins.module_utils.kube import immutable as im
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError

OPTION = "recreate_immutable"
_RECREATED_AGAIN = (" (the release was rolled back to revision %d, what ran before this run, which created the "
                    "deleted objects again)")


def refused(exc):
    """The Immutable named in a helm error (empty for any other error)."""
    return im.find(getattr(exc, "stderr", "") or str(exc))


def _refused_objects(run):
    """The objects of the refused revision (helm stored it as failed): one helm status."""
    try:
        return hr.parse_manifest((run.helm.status(run.name, run.namespace) or {}).get("manifest"))
    except HelmError:
        return []


def _refine(run, items, rendered, refs):
    """Name the changed fields of a refused ``spec`` from the rendered object and the live one: one GET each."""
    for index, item in enumerate(items):
        desired = item.rendered(rendered)
        if item.field == "spec" and desired is not None and refs[index] is not None:
            im.refine(item, run.api.get(refs[index]), desired)


def after_refusal(run, plan, items, previous):
    """Without the option: roll back what helm changed and raise the explanation; with it: recreate
    the objects (the caller upgrades again, and calls ``failed_again`` when that fails too). Every
    object is resolved before any is deleted."""
    needed = run.params.get(OPTION) or any(item.field == "spec" for item in items)
    rendered = (_refused_objects(run) if needed else []) + list(plan.planned_objects or [])
    try:
        refs = im.resolve(run.api, items, rendered, run.namespace)
    except KubeError as exc:
        if run.params.get(OPTION):
            raise KubeError("%s%s" % (exc, _restore(run, plan, previous))) from exc
        refs = [None] * len(items)  # explained without the fields that changed
    _refine(run, items, rendered, refs)
    if run.params.get(OPTION):
        try:
            im.recreate(run.api, refs)
        except KubeError as exc:
            raise KubeError("recreating %s failed: %s%s" % (", ".join(str(ref) for ref in refs), exc, _restore(
                run, plan, previous, _RECREATED_AGAIN))) from exc
        run.result["recreated"] = [str(ref) for ref in refs]
        return
    raise im.ImmutableFieldError(im.message(items, run.namespace, OPTION) + _restore(run, plan, previous), items)


def failed_again(run, plan, previous, exc):
    """The upgrade after the recreation failed: the deleted objects are missing until the release is rolled
    back (helm's rollback creates the objects of the revision it goes back to)."""
    return KubeError("the upgrade after recreating %s failed: %s%s" % (
        ", ".join(run.result.get("recreated") or []), exc, _restore(run, plan, previous, _RECREATED_AGAIN)))


def _restore(run, plan, previous, done=" (the release was rolled back to revision %d, what ran before this run: "
                                       "nothing changed)"):
    try:
        revision = rollback.undo(run, plan, previous)
    except HelmError as exc:
        return " (helm left the release failed; putting it back failed too: %s)" % exc
    if revision is None:
        return " (helm left the release failed: it had no deployed revision to roll back to)"
    if revision == 0:
        return " (the release the run installed was uninstalled)"
    return done % revision


def _shown(run, items, objects):
    try:
        return [str(ref) for ref in im.resolve(run.api, items, objects, run.namespace)]
    except KubeError:  # a kind not served yet (its CRD comes with the upgrade): named as rendered
        return ["%s %s/%s" % (item.kind, run.namespace, item.name) for item in items]


def predicted(run, plan):
    """Check mode: the objects the planned upgrade would be refused for, from the planned diff."""
    items = []
    for change in plan.diff or []:
        if change.get("action") == "update":
            items += im.predict(change.get("before"), change.get("after"))
    if not items:
        return
    run.result["immutable"] = _shown(run, items, plan.planned_objects)
    if run.params.get(OPTION):
        run.result["plan"]["reasons"].append(
            "would recreate %s (%s=true): %s" % (", ".join(run.result["immutable"]), OPTION, "; ".join(
                im.explain(item, run.namespace, OPTION) for item in items)))
    else:
        run.result["plan"]["reasons"].append("the upgrade would be refused: " + im.message(
            items, run.namespace, OPTION))
