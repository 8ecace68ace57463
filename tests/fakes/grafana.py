"""A stand-in for Grafana's HTTP API (Grafana cannot be built or installed here).

Serves the documented shapes of ``GET /api/health``, ``POST /login`` (session cookie
``grafana_session``), ``GET /api/datasources``, ``GET /api/datasources/uid/<uid>/health``
(200 ``{"status": "OK"}`` or 400 ``{"status": "ERROR"}``) and ``GET /api/search``. API calls
without a valid session cookie get 401, as Grafana answers them.
"""

from __future__ import annotations

import secrets

from .base import FakeServer


class FakeGrafana(FakeServer):
    def __init__(self, user="admin", password="prom-operator"):
        super().__init__()
        self.user, self.password = user, password
        self.database = "ok"
        self.sessions: set[str] = set()
        self.datasources = [
            {"id": 1, "uid": "prometheus", "orgId": 1, "name": "Prometheus", "type": "prometheus",
             "typeName": "Prometheus", "access": "proxy", "url": "http://kube-prometheus-stack-prometheus:9090",
             "isDefault": True, "readOnly": True},
            {"id": 2, "uid": "loki", "orgId": 1, "name": "Loki", "type": "loki", "typeName": "Loki",
             "access": "proxy", "url": "http://loki.monitoring.svc.cluster.local:3100", "isDefault": False,
             "readOnly": True},
        ]
        # uid -> (healthy, message)
        self.health = {"prometheus": (True, "Successfully queried the Prometheus API."),
                       "loki": (True, "Data source successfully connected.")}
        self.dashboards = [
            {"id": 11, "uid": "cluster-capacity", "title": "Cluster Capacity Overview", "folderTitle": "Capacity"},
            {"id": 12, "uid": "namespace-resources", "title": "Namespace Resource Breakdown",
             "folderTitle": "Capacity"},
            {"id": 13, "uid": "k8s-resources-cluster", "title": "Kubernetes / Compute Resources / Cluster"},
        ]

    def _authorized(self, request):
        cookies = dict(part.strip().split("=", 1) for part in (request.headers.get("Cookie") or "").split(";")
                       if "=" in part)
        return cookies.get("grafana_session") in self.sessions

    def handle(self, request):
        if request.path == "/api/health":
            return 200, {"commit": "fake", "database": self.database, "version": "12.0.0"}, {}
        if request.path == "/login" and request.method == "POST":
            body = request.json() or {}
            if body.get("user") != self.user or body.get("password") != self.password:
                return 401, {"message": "Invalid username or password", "messageId": "password-auth.failed",
                             "statusCode": 401}, {}
            session = secrets.token_hex(16)
            self.sessions.add(session)
            return 200, {"message": "Logged in", "redirectUrl": "/"}, {"Set-Cookie": [
                "grafana_session=%s; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax" % session,
                "grafana_session_expiry=1999999999; Path=/; Max-Age=2592000; SameSite=Lax"]}
        if request.path.startswith("/api/"):
            if not self._authorized(request):
                return 401, {"message": "Unauthorized"}, {}
            if request.path == "/api/datasources":
                return 200, self.datasources, {}
            if request.path.startswith("/api/datasources/uid/") and request.path.endswith("/health"):
                uid = request.path[len("/api/datasources/uid/"):-len("/health")]
                if uid not in {d["uid"] for d in self.datasources}:
                    return 404, {"message": "Data source not found"}, {}
                ok, message = self.health.get(uid, (False, "Plugin health check failed"))
                return (200, {"status": "OK", "message": message}, {}) if ok else \
                    (400, {"status": "ERROR", "message": message}, {})
            if request.path == "/api/search":
                query = (request.arg("query") or "").lower()
                hits = [dict(d, type="dash-db", uri="db/" + d["uid"], url="/d/" + d["uid"], tags=[],
                             isStarred=False) for d in self.dashboards if query in d["title"].lower()]
                return 200, hits, {}
        return 404, {"message": "Not found"}, {}
