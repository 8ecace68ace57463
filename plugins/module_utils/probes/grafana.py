# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana HTTP API client.

Logs in with ``POST /login`` and carries the session cookie: the apiserver's service proxy
consumes the ``Authorization`` header, so basic auth would not reach Grafana through it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.six.moves.urllib.parse import quote
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import ProbeError, expect_ok

_COOKIE = re.compile(r"(?:^|,\s*)([A-Za-z0-9_\-]+)=([^;,]*)")


def parse_set_cookie(value):
    """Cookie name -> value from a (possibly joined) Set-Cookie header."""
    return dict(_COOKIE.findall(value or ""))


class GrafanaClient:
    def __init__(self, transport):
        self.transport = transport
        self.cookies = {}

    def _headers(self):
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join("%s=%s" % item for item in sorted(self.cookies.items()))}

    def health(self):
        return expect_ok(self.transport.request("GET", "/api/health"), "Grafana /api/health").json()

    def login(self, user, password):
        """True when Grafana accepts the credentials; keeps the session cookie."""
        resp = self.transport.request("POST", "/login", body={"user": user, "password": password})
        if resp.status in (401, 403):
            return False, "Grafana refused the login (HTTP %d)" % resp.status
        expect_ok(resp, "Grafana POST /login")
        cookies = parse_set_cookie(resp.header("set-cookie"))
        if not cookies:
            raise ProbeError("Grafana accepted the login but set no session cookie (HTTP %d)" % resp.status)
        self.cookies.update(cookies)
        return True, "logged in"

    def _get(self, path, params=None):
        resp = self.transport.request("GET", path, params, headers=self._headers())
        return expect_ok(resp, "Grafana %s" % path).json()

    def datasources(self):
        return self._get("/api/datasources") or []

    def datasource_health(self, uid):
        """(ok, message) from Grafana's own health check of a datasource."""
        resp = self.transport.request("GET", "/api/datasources/uid/%s/health" % quote(uid, safe=""),
                                      headers=self._headers())
        try:
            body = resp.json()
        except ProbeError:
            body = {}
        message = body.get("message") if isinstance(body, dict) else None
        status = body.get("status") if isinstance(body, dict) else None
        ok = resp.ok and str(status).upper() == "OK"
        return ok, message or ("HTTP %d %s" % (resp.status, resp.snippet()))

    def search_dashboards(self, title):
        return self._get("/api/search", [("type", "dash-db"), ("query", title)]) or []
