# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reachability checks (Uptime Kuma, Exportarr, anything with an HTTP endpoint): ``http.<name>``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed


def check_endpoint(transport, path, statuses, contains=None):
    resp = transport.request("GET", path)
    if resp.status not in statuses:
        raise CheckFailed("GET %s on %s answered HTTP %d, expected %s: %s" % (
            path, transport.describe(), resp.status, "/".join(str(s) for s in statuses), resp.snippet()))
    if contains and not re.search(contains, resp.text):
        raise CheckFailed("GET %s on %s answered HTTP %d but the body does not match %r: %s" % (
            path, transport.describe(), resp.status, contains, resp.snippet()))
    return "HTTP %d%s" % (resp.status, ", body matches %r" % contains if contains else "")


def run_http(runner, endpoints):
    """``endpoints``: dicts with name, transport, path, status (list), contains."""
    for ep in endpoints:
        runner.run("http." + ep["name"], check_endpoint, ep["transport"], ep.get("path") or "/",
                   ep.get("status") or [200], ep.get("contains"))
    return runner
