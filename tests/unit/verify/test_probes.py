"""Probe helpers on recorded-shape answers (no network)."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube.http import header_dict
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


def test_response_json_errors_name_the_url_and_body():
    with pytest.raises(ProbeError, match=r"http://x/y answered HTTP 502 with a body that is not JSON: Bad Gateway"):
        Response(502, "Bad Gateway", {}, "http://x/y").json()
