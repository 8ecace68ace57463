"""The probes reach the apiserver through the shared kube client (``KubeApi``): its credentials, its
HTTP path, its pagination; a real local HTTP server stands in for the apiserver."""

import http.server
import json
import socket
import threading
from urllib.parse import parse_qs, urlparse

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube.client import kube_api
from ansible_collections.homelab.observability.plugins.module_utils.probes.kubeapi import NotServed, list_items
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import (
    ApiserverTransport,
    ProbeError,
    ServiceProxyTransport,
)

from ..kube.test_preflight import Handler

TOKEN = "tok-0a8b7c6d"
PAGES = {None: {"items": [{"n": 1}, {"n": 2}], "metadata": {"continue": "next"}},
         "next": {"items": [{"n": 3}], "metadata": {}}}


class Apiserver(Handler):
    seen = []

    def do_GET(self):  # noqa: N802 - the http.server protocol
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.seen.append((url.path, query, self.headers.get("Authorization")))
        if url.path == "/api/v1/nodes":
            self.reply(200, json.dumps(PAGES[query.get("continue")]))
        elif url.path.endswith("/proxy/redirect"):
            self.reply(302, "", {"Location": "/login"})
        elif url.path.endswith("/proxy/ready"):
            self.reply(200, "ready")
        else:
            self.reply(404, json.dumps({"kind": "Status", "message": "the server could not find the requested thing"}))


@pytest.fixture
def apiserver():
    handler = type("H", (Apiserver,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1], handler.seen
    server.shutdown()
    server.server_close()


def transport(url):
    return ApiserverTransport(kube_api({"host": url, "api_key": TOKEN}, {}), timeout=5)


def test_list_items_pages_through_the_kube_client_with_its_token(apiserver):
    url, seen = apiserver
    assert list_items(transport(url), "/api/v1/nodes", page=2) == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [(q.get("limit"), q.get("continue")) for _, q, _ in seen] == [("2", None), ("2", "next")]
    assert {auth for _, _, auth in seen} == {"Bearer " + TOKEN}


def test_a_missing_path_is_an_answer_not_a_client_failure(apiserver):
    url, _ = apiserver
    with pytest.raises(NotServed, match="not serve /apis/x/v1/things: the server could not find the requested thing"):
        list_items(transport(url), "/apis/x/v1/things")


def test_the_service_proxy_neither_follows_redirects_nor_retries(apiserver):
    url, seen = apiserver
    proxy = ServiceProxyTransport(transport(url), "monitoring", "grafana", "80")
    assert proxy.request("GET", "ready").text == "ready"
    resp = proxy.request("GET", "/redirect")
    assert (resp.status, resp.header("location")) == (302, "/login")
    assert [p for p, _, _ in seen] == ["/api/v1/namespaces/monitoring/services/http:grafana:80/proxy/ready",
                                       "/api/v1/namespaces/monitoring/services/http:grafana:80/proxy/redirect"]


def test_no_answer_is_a_probe_error_at_once():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = transport("http://127.0.0.1:%d" % port)
    with pytest.raises(ProbeError, match=r"http://127.0.0.1:%d/version did not answer: GET /version failed" % port):
        api.request("GET", "/version")
    assert api.api.counts["retries"] == 0
