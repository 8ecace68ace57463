# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollback_on_failure: a release that fails its health gate goes back to the revision deployed
before the run (or, when the run installed it, is uninstalled)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import HelmError, last_deployed


def target(plan):
    """The history entry to roll back to, chosen before the upgrade writes a new revision (after a
    pending release was recovered, from the recovered history); None for a new release."""
    if not plan.current:
        return None
    return last_deployed(plan.history)


def on_failure(run, plan, previous):
    """Roll back after a failed gate; the text to append to the failure message."""
    if not run.params.get("rollback_on_failure") or plan.action == "none":
        return ""
    try:
        revision = undo(run, plan, previous)
    except HelmError as exc:
        note = " (rollback failed: %s)" % exc
    else:
        notes = {None: "", 0: " (the new release was uninstalled)"}
        note = notes.get(revision, " (rolled back to revision %s)" % revision)
    run.timer.lap("rollback")
    return note


def undo(run, plan, previous):
    """Put the release back as it was before the run: roll back to ``previous``, or uninstall the release the
    run installed. Returns the revision rolled back to, 0 when uninstalled, None when there was nothing to go
    back to; raises HelmError."""
    if previous:
        run.helm.rollback(run.name, run.namespace, previous["revision"])
        run.result["rolled_back_to"] = previous["revision"]
        return previous["revision"]
    if plan.action == "install":
        run.helm.uninstall(run.name, run.namespace)
        run.result["rolled_back_to"] = 0
        return 0
    return None
