# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall-clock stamps (UTC, ISO 8601 with ``Z``) and the per-phase timer of a component's run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time


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
