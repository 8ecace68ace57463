# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of one component: its options, the clients it talks through and the result it fills."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h


def new_result():
    """The module's return values before anything happened."""
    return {
        "changed": False,
        "diff": [],
        "resources": [],
        "health": h.UNKNOWN,
        "diagnosis": [],
        "revision": None,
        "timing": {},
    }


class ComponentRun:
    """What every step of a component's lifecycle reads (options, clients) and writes (result, timer)."""

    def __init__(self, params, api, waiter, timer, *, check_mode):
        self.params = params
        self.name = params.get("name")
        self.namespace = params.get("namespace")
        self.api = api
        self.waiter = waiter
        self.timer = timer
        self.check_mode = check_mode
        self.helm = None  # a chart component's Helm, set by deploy/lifecycle.py
        self.result = new_result()

    @property
    def waits(self):
        return self.params.get("wait", True)

    @property
    def create_namespace(self):
        return self.params.get("create_namespace", True)

    def fail(self, msg):
        self.result["failed"] = True
        self.result["msg"] = msg
