# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loki HTTP API client: ``/ready``, ``/config``, ``/loki/api/v1/series`` and ``/loki/api/v1/query_range``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import (
    ProbeError,
    expect_ok,
    expect_ready,
)


class LokiClient:
    def __init__(self, transport, tenant=None):
        self.transport = transport
        self.headers = {"X-Scope-OrgID": tenant} if tenant else {}

    def ready(self):
        return expect_ready(self.transport, "Loki", "/ready", headers=self.headers)

    def config(self):
        """The running configuration, as the YAML text Loki serves."""
        return expect_ok(self.transport.request("GET", "/config", headers=self.headers), "Loki /config").text

    def _api(self, path, params):
        resp = expect_ok(self.transport.request("GET", path, params, headers=self.headers), "Loki %s" % path)
        body = resp.json()
        if not isinstance(body, dict) or body.get("status") != "success":
            raise ProbeError("Loki %s did not succeed: %s" % (path, resp.snippet()))
        return body.get("data")

    def series(self, match, start_ns, end_ns):
        """Label sets of the streams matching the selector ``match`` between start and end (ns)."""
        params = [("match[]", match), ("start", str(int(start_ns))), ("end", str(int(end_ns)))]
        return self._api("/loki/api/v1/series", params) or []

    def query_range(self, query, start_ns, end_ns, limit=100, direction="backward"):
        """``[(labels, [(ts, line), ...]), ...]`` for a LogQL log query."""
        params = [("query", query), ("start", str(int(start_ns))), ("end", str(int(end_ns))),
                  ("limit", str(int(limit))), ("direction", direction)]
        data = self._api("/loki/api/v1/query_range", params) or {}
        if data.get("resultType") not in (None, "streams"):
            raise ProbeError("Loki answered resultType %r to a log query; expected 'streams'" % data.get("resultType"))
        return [(item.get("stream") or {}, [tuple(v) for v in item.get("values") or []])
                for item in data.get("result") or []]
