"""The HTTP endpoint checks against fake transports."""

from ansible_collections.homelab.observability.plugins.module_utils.verify.http import run_http
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckRunner

from .conftest import FakeTransport


def test_http_endpoints_check_status_and_body():
    kuma = FakeTransport(name="uptime-kuma")
    kuma.set("/", "", status=302, headers={"Location": "/dashboard"})
    exporter = FakeTransport(name="exportarr-sonarr")
    exporter.set("/metrics", "# HELP radarr_system_status\nradarr_system_status 1\n")
    runner = CheckRunner()
    run_http(runner, [{"name": "uptime-kuma", "transport": kuma, "status": [200, 302]},
                      {"name": "exportarr-sonarr", "transport": exporter, "path": "/metrics", "contains": "sonarr_"},
                      {"name": "gone", "transport": FakeTransport(name="gone")}])
    got = {c["name"]: (c["result"], c["reason"]) for c in runner.results}
    assert got["http.uptime-kuma"] == ("passed", "HTTP 302")
    assert got["http.exportarr-sonarr"][0] == "failed"
    assert "body does not match 'sonarr_'" in got["http.exportarr-sonarr"][1]
    assert got["http.gone"] == ("failed", "gone: connection refused (GET /)")
