"""Probe helpers and the VPA/HTTP check logic on recorded-shape answers (no network)."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.probes.args import (
    KubeSession,
    build_transport,
    resolve_access,
)
from ansible_collections.homelab.observability.plugins.module_utils.probes.grafana import parse_set_cookie
from ansible_collections.homelab.observability.plugins.module_utils.probes.kubeapi import list_items, secret_values
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import (
    ProbeError,
    Response,
    ServiceProxyTransport,
    header_dict,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.http import run_http
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import (
    CheckFailed,
    CheckRunner,
    CheckSkipped,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.vpa import (
    check_coverage,
    check_recommendations,
    update_mode,
)

from .conftest import FakeTransport

DEFAULT = {"namespace": "monitoring", "service": "kube-prometheus-stack-prometheus", "port": "9090"}


def test_repeated_headers_are_joined_and_cookies_parsed():
    headers = header_dict([("Set-Cookie", "grafana_session=abc; Path=/; HttpOnly"),
                           ("Set-Cookie", "grafana_session_expiry=17; Expires=Wed, 26 Nov 2026 00:00:00 GMT")])
    assert parse_set_cookie(headers["set-cookie"]) == {"grafana_session": "abc", "grafana_session_expiry": "17"}


def test_access_defaults_to_the_chart_service_unless_a_url_is_given():
    assert resolve_access({}, DEFAULT)["service"] == "kube-prometheus-stack-prometheus"
    assert resolve_access({"service": "prom", "port": "web"}, DEFAULT)["port"] == "web"
    direct = resolve_access({"url": "https://p.example"}, DEFAULT)
    assert direct["service"] is None and direct["validate_certs"] is True


def test_a_url_never_builds_a_kubernetes_client():
    def factory(params):
        raise AssertionError("no API client for a direct URL")

    transport = build_transport({"url": "http://127.0.0.1:9"}, DEFAULT, KubeSession({}, factory=factory))
    assert transport.describe() == "http://127.0.0.1:9"


def test_service_proxy_paths_and_errors():
    api = FakeTransport(name="apiserver")
    proxy = ServiceProxyTransport(api, "monitoring", "loki", "3100", scheme="http")
    api.set("/api/v1/namespaces/monitoring/services/http:loki:3100/proxy/ready", "ready")
    assert proxy.request("GET", "/ready").text == "ready"
    api.set("/api/v1/namespaces/monitoring/services/http:loki:3100/proxy/x",
            '{"kind":"Status","message":"no endpoints available for service \\"loki\\""}', status=503)
    with pytest.raises(ProbeError, match="has no ready endpoints"):
        proxy.request("GET", "/x")


def test_list_items_follows_continue_tokens():
    pages = [{"items": [1, 2], "metadata": {"continue": "t"}}, {"items": [3], "metadata": {}}]
    api = FakeTransport()
    api.set("/api/v1/nodes", lambda params, body, headers: (200, pages.pop(0), {}))
    assert list_items(api, "/api/v1/nodes") == [1, 2, 3]


def test_secret_values_are_decoded_and_missing_keys_named():
    api = FakeTransport()
    api.set("/api/v1/namespaces/monitoring/secrets/grafana-admin",
            {"data": {"admin-user": "YWRtaW4=", "admin-password": "czNjcmV0"}})
    assert secret_values(api, "monitoring", "grafana-admin", ["admin-user", "admin-password"]) == ["admin", "s3cret"]
    with pytest.raises(ProbeError, match="has no key password"):
        secret_values(api, "monitoring", "grafana-admin", ["password"])


def _obj(kind, ns, name, **spec):
    return kind, {"metadata": {"namespace": ns, "name": name}, "spec": spec}


def _vpa(ns, kind, name, mode=None, *, created="2026-01-01T00:00:00Z", recommendation=None):
    vpa = {"metadata": {"namespace": ns, "name": "goldilocks-" + name, "creationTimestamp": created},
           "spec": {"targetRef": {"kind": kind, "name": name}}}
    if mode:
        vpa["spec"]["updatePolicy"] = {"updateMode": mode}
    if recommendation:
        vpa["status"] = {"recommendation": {"containerRecommendations": recommendation}}
    return vpa


def test_a_vpa_without_update_mode_counts_as_auto():
    assert update_mode(_vpa("a", "Deployment", "x")) == "Auto"
    workloads = [_obj("Deployment", "a", "x"), _obj("Deployment", "kube-public", "y")]
    with pytest.raises(CheckFailed, match=r"1 VPAs do not have updateMode Off: a/goldilocks-x \(updateMode Auto\)"):
        check_coverage(workloads, [_vpa("a", "Deployment", "x")], ["kube-public"])
    assert check_coverage(workloads, [_vpa("a", "Deployment", "x", "Off")], ["kube-public"]) == \
        "1 workloads covered by VPAs with updateMode Off"


def test_a_workload_with_a_controller_is_covered_by_a_vpa_of_that_controller():
    controller = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "name": "kps-prometheus",
                  "controller": True}
    owned = {"metadata": {"namespace": "monitoring", "name": "prometheus-kps-prometheus",
                          "ownerReferences": [controller]}}
    of_prometheus = _vpa("monitoring", "Prometheus", "kps-prometheus", "Off")
    of_statefulset = _vpa("monitoring", "StatefulSet", "prometheus-kps-prometheus", "Off")
    assert check_coverage([("StatefulSet", owned)], [of_prometheus], []) == \
        "1 workloads covered by VPAs with updateMode Off"
    hint = r"\(a VPA must target its controller Prometheus kps-prometheus\)"
    missing = r"1 workloads have no VPA: StatefulSet monitoring/prometheus-kps-prometheus "
    with pytest.raises(CheckFailed, match=missing + hint):
        check_coverage([("StatefulSet", owned)], [of_statefulset], [])


def test_recommendations_wait_for_the_grace_period():
    vpas = [_vpa("a", "Deployment", "x", "Off", created="2026-01-01T00:00:00Z",
                 recommendation=[{"containerName": "x"}]),
            _vpa("a", "Deployment", "y", "Off", created="2026-01-01T00:09:00Z")]
    start = 1767225600  # 2026-01-01T00:00:00Z
    assert check_recommendations(vpas, [], 300, start + 600) == "1 VPAs carry recommendations"
    with pytest.raises(CheckFailed, match="1 of 2 VPAs older than 300s have no recommendation: a/goldilocks-y"):
        check_recommendations(vpas, [], 300, start + 900)


def test_young_vpas_with_a_recommendation_prove_the_recommender_early():
    start = 1767225600  # 2026-01-01T00:00:00Z
    vpas = [_vpa("a", "Deployment", "x", "Off", recommendation=[{"containerName": "x"}]),
            _vpa("a", "Deployment", "y", "Off"),
            _vpa("kube-public", "Deployment", "z", "Off", recommendation=[{"containerName": "z"}])]
    assert check_recommendations(vpas, ["kube-public"], 300, start + 60) == \
        "1 of 2 VPAs carry recommendations already (none is older than 300s yet)"
    with pytest.raises(CheckSkipped, match="no VPA is older than 300s yet"):
        check_recommendations(vpas[1:], ["kube-public"], 300, start + 60)


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


def test_response_json_errors_name_the_url_and_body():
    with pytest.raises(ProbeError, match=r"http://x/y answered HTTP 502 with a body that is not JSON: Bad Gateway"):
        Response(502, "Bad Gateway", {}, "http://x/y").json()
