# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waves: components grouped by wave number, waves in ascending order, a wave's components in
parallel threads, and a stop at the first wave that does not become healthy.

``deploy_one`` is injected (deploy/lifecycle.py ``deploy`` in the module), which keeps this file
pure enough to test ordering, parallelism and the stop rule without a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.homelab.observability.plugins.module_utils.deploy.run import new_result
from ansible_collections.homelab.observability.plugins.module_utils.deploy.timing import iso, utcnow
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError

NOT_STARTED = "not_started"
PHASES = ("plan", "apply", "prune", "wait")


def group_waves(components):
    """[(wave, [component, ...]), ...] ascending; names must be unique."""
    seen = set()
    waves = {}
    for comp in components:
        if comp["name"] in seen:
            raise KubeError("component %r appears twice: component names must be unique" % comp["name"])
        seen.add(comp["name"])
        waves.setdefault(int(comp.get("wave") or 0), []).append(comp)
    return sorted(waves.items())


def _not_started(comp):
    return {
        "wave": int(comp.get("wave") or 0),
        "changed": False,
        "health": NOT_STARTED,
        "resources": [],
        "diagnosis": [],
        "started_at": None,
        "finished_at": None,
        "duration": None,
        "phases": {},
    }


def first_component(components):
    """The component the run starts with (the deploy lock lives in its namespace unless told otherwise)."""
    waves = group_waves(components)
    return waves[0][1][0] if waves else None


def run_waves(components, deploy_one, wave_timeout=900, max_parallel=8, check_mode=False, *, lock=None):
    """Returns (result, failed_message_or_None).

    ``lock`` (kube/lease.py ``DeployLock``, or None): taken by the first write of the run (``deploy_one``'s
    clients call its ``ensure``), so a run with nothing to change writes nothing; in check mode read before the
    first wave, to name a holder. Released at the end whatever happened; a refused or lost lock stops the run
    before the next wave, and a lost one refuses every write after the loss (``ensure`` fences each write).
    """
    waves = group_waves(components)
    if lock is None:
        return _run_all(waves, components, deploy_one, (wave_timeout, max_parallel, check_mode), None)
    if check_mode:
        lock.acquire()
    try:
        return _run_all(waves, components, deploy_one, (wave_timeout, max_parallel, check_mode), lock)
    finally:
        lock.release()


def _run_all(waves, components, deploy_one, options, lock):
    wave_timeout, max_parallel, check_mode = options
    out_components = {c["name"]: _not_started(c) for c in components}
    out_waves = []
    failure = None
    for wave, members in waves:
        stopped = _lock_problem(lock)
        if stopped:
            # another deploy runs now: starting this wave would race it on the same releases
            later = [c["name"] for w, ms in waves if w >= wave for c in ms]
            failure = "%s; not started: %s" % (stopped, ", ".join(later))
            break
        started, t0 = utcnow(), time.monotonic()
        results = _run_wave(members, deploy_one, wave_timeout, max_parallel, check_mode)
        finished = utcnow()
        for comp, res in zip(members, results, strict=True):
            out_components[comp["name"]] = _outcome(wave, res)
        healthy = not any(_stops_the_run(comp, res, check_mode) for comp, res in zip(members, results, strict=True))
        out_waves.append(
            {
                "wave": wave,
                "components": [c["name"] for c in members],
                "healthy": healthy,
                "started_at": iso(started),
                "finished_at": iso(finished),
                "duration": round(time.monotonic() - t0, 3),
            }
        )
        if not healthy:
            failure = _lock_failure(lock, wave, waves) or _wave_failure(wave, members, results, waves, check_mode)
            break
    result = {
        "changed": any(c["changed"] for c in out_components.values()),
        "waves": out_waves,
        "components": out_components,
        "timing_table": timing_table(components, out_components),
    }
    return result, failure


def _lock_problem(lock):
    """Why the run may not go on: another deploy keeps the lock (refused) or took it over (lost); else None."""
    if lock is None:
        return None
    return str(lock.refused) if getattr(lock, "refused", None) else lock.lost


def _lock_failure(lock, wave, waves):
    """A refused or lost lock is the run's cause, not each component's refused write."""
    problem = _lock_problem(lock)
    if not problem:
        return None
    later = [c["name"] for w, ms in waves if w > wave for c in ms]
    return "%s%s" % (problem, "; not started: %s" % ", ".join(later) if later else "")


def _run_wave(members, deploy_one, wave_timeout, max_parallel, check_mode):
    """The results of a wave's components, in their order, deployed in up to max_parallel threads."""
    workers = max(1, min(max_parallel, len(members)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda comp: _deploy_guarded(comp, deploy_one, wave_timeout, check_mode), members))


def _deploy_guarded(comp, deploy_one, wave_timeout, check_mode):
    params = dict(comp)
    params.pop("wave", None)
    # A component's own wait_timeout never outlasts its wave's.
    params["wait_timeout"] = min(int(params.get("wait_timeout") or wave_timeout), int(wave_timeout))
    try:
        return deploy_one(params, check_mode)
    except Exception as exc:  # a bug in one component must not hide the others' results
        return dict(new_result(), failed=True, msg="%s: unexpected error: %s" % (comp["name"], exc))


def _outcome(wave, res):
    """A component's entry in the module's ``components``."""
    timing = res.get("timing") or {}
    out = {
        "wave": wave,
        "changed": bool(res.get("changed")),
        "health": res.get("health", h.UNKNOWN),
        "resources": res.get("resources") or [],
        "diagnosis": res.get("diagnosis") or [],
        "started_at": timing.get("started_at"),
        "finished_at": timing.get("finished_at"),
        "duration": timing.get("duration"),
        # where the time went, as the release module's timing has it: read the slow phase, not the total
        "phases": {phase: timing[phase] for phase in PHASES if phase in timing},
        "revision": res.get("revision"),
        "diff": res.get("diff") or [],
    }
    for key in ("plan", "drift", "drift_applied", "pruned"):
        if key in res:
            out[key] = res[key]
    if res.get("failed"):
        out["msg"] = res.get("msg")
    return out


def _stops_the_run(comp, res, check_mode):
    """A failed component, or (outside check mode) one that waits and is not healthy."""
    if res.get("failed"):
        return True
    return not check_mode and res.get("health") != h.HEALTHY and comp.get("wait", True)


def _wave_failure(wave, members, results, waves, check_mode):
    """The run's failure message: who in the wave is not healthy, and which components never started."""
    bad = [(comp["name"], res) for comp, res in zip(members, results, strict=True)
           if _stops_the_run(comp, res, check_mode)]
    later = [c["name"] for w, ms in waves if w > wave for c in ms]
    return "wave %d did not become healthy (%s)%s" % (
        wave,
        "; ".join(res.get("msg") or "%s is %s" % (name, res.get("health")) for name, res in bad),
        ": not started: %s" % ", ".join(later) if later else "",
    )


def timing_table(components, out_components):
    """One row per component, in wave order: what ran when and for how long."""
    rows = []
    ordered = sorted(components, key=lambda c: (int(c.get("wave") or 0), c["name"]))
    for comp in ordered:
        res = out_components[comp["name"]]
        rows.append(
            {
                "wave": res["wave"],
                "component": comp["name"],
                "changed": res["changed"],
                "health": res["health"],
                "started_at": res["started_at"],
                "finished_at": res["finished_at"],
                "duration": res["duration"],
                "phases": res.get("phases") or {},
            }
        )
    return rows
