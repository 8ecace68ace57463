# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check result model shared by every verify_* module and the report.

A check is a named function. It returns a short detail string when it passes, raises
``CheckFailed`` with the reason when the promise does not hold, and ``CheckSkipped`` when it
cannot apply. ``CheckRunner`` times each check on a monotonic clock, honours skip switches
(``skip`` maps a check name, or a dotted prefix of it, to the reason) and records the result as
``{name, result, duration, reason}``. A check that held against a component named in
``stand_ins`` (same keys) is recorded as ``stand-in``, not ``passed``: it proved the check's
plumbing against a stand-in server, not the promise of the real component.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"
STAND_IN = "stand-in"
RESULTS = (PASSED, FAILED, SKIPPED, STAND_IN)


class CheckFailed(Exception):
    """The check ran and the promise does not hold; the message is the reason."""


class CheckSkipped(Exception):
    """The check does not apply here; the message is the reason."""


def check_result(name, result, duration=0.0, reason=""):
    if result not in RESULTS:
        raise ValueError("result must be one of %s, got %r" % (", ".join(RESULTS), result))
    return {"name": name, "result": result, "duration": round(float(duration), 3), "reason": reason or ""}


def skip_reason(skip, name):
    """The reason to skip ``name``: an exact key wins, then the longest dotted prefix."""
    if not skip:
        return None
    if name in skip:
        return skip[name] or "skipped by the skip switch"
    parts = name.split(".")
    for length in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in skip:
            return skip[prefix] or "skipped by the skip switch"
    return None


def summarize(checks):
    counts = {PASSED: 0, FAILED: 0, SKIPPED: 0, STAND_IN: 0}
    for check in checks:
        counts[check["result"]] += 1
    counts["total"] = len(checks)
    counts["duration"] = round(sum(check.get("duration", 0.0) for check in checks), 3)
    return counts


class CheckRunner:
    """Runs checks in order and keeps their results."""

    def __init__(self, skip=None, clock=time.monotonic, stand_ins=None):
        self.skip = dict(skip or {})
        self.stand_ins = dict(stand_ins or {})
        self.clock = clock
        self.results = []
        self._by_name = {}

    def result_of(self, name):
        return self._by_name.get(name)

    def _record(self, name, result, duration, reason):
        entry = check_result(name, result, duration, reason)
        self.results.append(entry)
        self._by_name[name] = entry
        return entry

    def skipped(self, name, reason):
        return self._record(name, SKIPPED, 0.0, reason)

    def failed(self, name, reason, duration=0.0):
        return self._record(name, FAILED, duration, reason)

    def run(self, name, func, *args, **kwargs):
        """Run ``func(*args, **kwargs)`` as check ``name``.

        ``requires`` (keyword) names checks that must have passed first: when one failed, this
        check fails without running ("not checked"); when one was skipped, this one is skipped.
        """
        requires = kwargs.pop("requires", ())
        if isinstance(requires, str):
            requires = (requires,)
        reason = skip_reason(self.skip, name)
        if reason is not None:
            return self.skipped(name, reason)
        blocked = self._blocked(name, requires)
        if blocked is not None:
            return blocked
        start = self.clock()
        try:
            detail = func(*args, **kwargs)
        except CheckFailed as exc:
            return self.failed(name, str(exc), self.clock() - start)
        except CheckSkipped as exc:
            return self._record(name, SKIPPED, self.clock() - start, str(exc))
        except Exception as exc:  # a probe error or a bug: the check could not prove its promise
            return self.failed(name, "%s: %s" % (type(exc).__name__, exc) if not _is_probe_error(exc) else str(exc),
                               self.clock() - start)
        return self._passed(name, detail, self.clock() - start)

    def _blocked(self, name, requires):
        """The result of ``name`` when a check it requires failed or was skipped, else None."""
        for required in requires:
            earlier = self._by_name.get(required)
            if earlier is None:
                continue
            if earlier["result"] == FAILED:
                return self.failed(name, "not checked: %s failed (%s)" % (required, earlier["reason"]))
            if earlier["result"] == SKIPPED:
                return self.skipped(name, "not checked: %s was skipped (%s)" % (required, earlier["reason"]))
        return None

    def _passed(self, name, detail, duration):
        stand_in = skip_reason(self.stand_ins, name)
        if stand_in is not None:
            return self._record(name, STAND_IN, duration,
                                "held against a stand-in (%s)%s" % (stand_in, ": " + detail if detail else ""))
        return self._record(name, PASSED, duration, detail or "")

    @property
    def passed(self):
        return all(check["result"] != FAILED for check in self.results)

    def summary(self):
        return summarize(self.results)


def _is_probe_error(exc):
    return getattr(exc, "user_facing", False)


def poll(probe, timeout, interval=1.0, clock=time.monotonic, sleep=time.sleep):
    """Call ``probe()`` until it returns ``(True, value)`` or ``timeout`` seconds pass.

    ``probe`` returns ``(done, value)``; the last value is returned either way, with ``done``.
    A timeout of 0 means one look.
    """
    deadline = clock() + max(0.0, float(timeout))
    while True:
        done, value = probe()
        remaining = deadline - clock()
        if done or remaining <= 0:
            return done, value
        sleep(min(interval, remaining))


def failures_text(checks):
    """One line per failed check, for the message that fails the play or a module."""
    return "; ".join("%s: %s" % (check["name"], check["reason"]) for check in checks if check["result"] == FAILED)
