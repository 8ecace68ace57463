# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health gate of one component: observe or wait for its objects, and say why it is not healthy."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube import manifests as mf
from ansible_collections.homelab.observability.plugins.module_utils.kube.diagnose import Diagnoser
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import overall


def health_gate(run, objects):
    """Fill resources/health/diagnosis; (healthy, final) where final says waiting stopped on a final cause."""
    refs = mf.refs_of(run.api, objects, run.namespace)
    if run.check_mode or not run.waits:
        observations = run.waiter.observe(refs)
        done = all(o.health.status == h.HEALTHY for o in observations)
    else:
        observations, done = run.waiter.wait(refs, run.params.get("wait_timeout") or 600)
    result = run.result
    result["resources"] = [o.as_dict() for o in observations]
    result["health"] = overall(observations)
    if result["health"] != h.HEALTHY and not run.check_mode:
        result["diagnosis"] = Diagnoser(run.api).diagnose(observations)
    run.timer.lap("wait")
    return done, any(o.health.final and o.health.status != h.HEALTHY for o in observations)


def must_fail(run, healthy):
    """Only a real run that waits fails on health; check mode and wait=false report it."""
    return not healthy and not run.check_mode and run.waits


def unhealthy_msg(run, final):
    # a final cause stops the wait at once: "after 600s" would send the reader looking at the timeout
    when = "failed (waiting cannot fix it)" if final else "not healthy after %ss" % run.params.get("wait_timeout")
    return "%s: %s: %s" % (run.name, when, "; ".join(run.result["diagnosis"][:5]))
