# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the probes reach a service: the apiserver's service proxy, or a direct URL.

Every transport has ``request(method, path, params=None, body=None, headers=None)`` returning a
``Response`` whatever the HTTP status (a probe decides what a status means) and raising
``ProbeError`` only when no HTTP answer came back (refused, timeout, TLS failure).

* ``ApiserverTransport`` talks to the Kubernetes API with the shared kube client's configuration
  (kubeconfig, token, client certificate, CA: the same TLS settings as every other module).
* ``ServiceProxyTransport`` prefixes paths with
  ``/api/v1/namespaces/<ns>/services/<scheme>:<name>:<port>/proxy`` on top of it: no ingress, DNS
  or port-forward needed. The apiserver consumes the ``Authorization`` header, so services behind
  it authenticate with cookies (Grafana's session) rather than basic auth.
* ``DirectTransport`` uses ``ansible.module_utils.urls.open_url`` against a base URL, TLS
  verification on unless turned off explicitly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, urlencode
from ansible.module_utils.urls import open_url

SNIPPET = 200


class ProbeError(Exception):
    """No usable answer from a service; the message says which service and why."""

    user_facing = True


class Response:
    def __init__(self, status, body=b"", headers=None, url=""):
        self.status = int(status)
        self.body = body if isinstance(body, bytes) else (body or "").encode("utf-8")
        self.headers = header_dict(headers)
        self.url = url

    @property
    def ok(self):
        return 200 <= self.status < 300

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def snippet(self):
        text = " ".join(self.text.split())
        return text if len(text) <= SNIPPET else text[:SNIPPET] + "..."

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            raise ProbeError("%s answered HTTP %d with a body that is not JSON: %s"
                             % (self.url, self.status, self.snippet())) from None

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


def header_dict(headers):
    """Headers as a dict; repeated headers (Set-Cookie) joined with ", " as HTTP allows."""
    merged = {}
    if not headers:
        return merged
    items = headers.items() if hasattr(headers, "items") else headers
    for name, value in items:
        key = name.lower()
        merged[key] = merged[key] + ", " + value if key in merged else value
    return merged


def _encode_body(body, headers):
    if body is None or isinstance(body, (bytes, str)):
        return body
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(body)


def _query(params):
    if not params:
        return ""
    items = params.items() if isinstance(params, dict) else params
    return "?" + urlencode(list(items))


class DirectTransport:
    """Plain HTTP(S) to a base URL such as ``https://prometheus.homelab.local``."""

    def __init__(self, base_url, validate_certs=True, ca_cert=None, timeout=10.0, opener=open_url):
        self.base_url = base_url.rstrip("/")
        self.validate_certs = validate_certs
        self.ca_cert = ca_cert
        self.timeout = timeout
        self._open = opener

    def describe(self):
        return self.base_url

    def request(self, method, path, params=None, body=None, headers=None):
        headers = dict(headers or {})
        data = _encode_body(body, headers)
        url = self.base_url + "/" + path.lstrip("/") + _query(params)
        try:
            resp = self._open(
                url, method=method, data=data, headers=headers, validate_certs=self.validate_certs,
                ca_path=self.ca_cert, timeout=self.timeout, follow_redirects="none", use_proxy=True,
            )
            return Response(resp.getcode() if hasattr(resp, "getcode") else resp.status, resp.read(), resp.headers, url)
        except HTTPError as exc:
            try:
                body_bytes = exc.read()
            except Exception:
                body_bytes = b""
            return Response(exc.code, body_bytes or b"", exc.headers, url)
        except (URLError, OSError, ValueError) as exc:  # timeouts are OSErrors
            reason = getattr(exc, "reason", exc)
            raise ProbeError("%s did not answer: %s" % (url, reason)) from exc


class ApiserverTransport:
    """Requests to the Kubernetes API with the shared client's TLS and credentials."""

    def __init__(self, api_client, timeout=10.0):
        import urllib3  # noqa: PLC0415 - a dependency of the kubernetes library this transport needs anyway

        self._urllib3 = urllib3
        self.api_client = api_client
        self.configuration = api_client.configuration
        self.timeout = timeout

    def describe(self):
        return self.configuration.host

    def _auth_headers(self):
        headers = {}
        for setting in (self.configuration.auth_settings() or {}).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        return headers

    def request(self, method, path, params=None, body=None, headers=None, *, timeout=None):
        urllib3 = self._urllib3
        headers = dict(headers or {})
        headers.update(self._auth_headers())
        data = _encode_body(body, headers)
        url = self.configuration.host.rstrip("/") + "/" + path.lstrip("/") + _query(params)
        try:
            resp = self.api_client.rest_client.pool_manager.request(
                method, url, body=data, headers=headers, timeout=urllib3.Timeout(total=timeout or self.timeout),
                preload_content=True, redirect=False, retries=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ProbeError("%s did not answer: %s" % (url, exc)) from exc
        return Response(resp.status, resp.data, resp.headers, url)


class ServiceProxyTransport:
    """A Service reached through the apiserver: ``/api/v1/namespaces/<ns>/services/<scheme>:<name>:<port>/proxy``."""

    def __init__(self, apiserver, namespace, service, port, *, scheme="http", timeout=None):
        self.apiserver = apiserver
        self.timeout = timeout
        self.namespace = namespace
        self.service = service
        self.port = str(port)
        self.scheme = scheme
        self.prefix = "/api/v1/namespaces/%s/services/%s:%s:%s/proxy" % (
            quote(namespace, safe=""), scheme, quote(service, safe=""), quote(self.port, safe=""))

    def describe(self):
        return "service %s/%s:%s (via the apiserver proxy)" % (self.namespace, self.service, self.port)

    def request(self, method, path, params=None, body=None, headers=None):
        resp = self.apiserver.request(method, self.prefix + "/" + path.lstrip("/"), params, body, headers,
                                      timeout=self.timeout)
        if resp.status == 503 and b"no endpoints available" in resp.body:
            raise ProbeError("%s has no ready endpoints (the apiserver answered 503: %s)"
                             % (self.describe(), resp.snippet()))
        if resp.status == 404 and b'"kind":"Status"' in resp.body.replace(b" ", b"") and b"services" in resp.body:
            raise ProbeError("%s does not exist: %s" % (self.describe(), resp.snippet()))
        return resp


def expect_ok(resp, what):
    """The response when it is 2xx, else ProbeError naming ``what``, the status and the body."""
    if not resp.ok:
        raise ProbeError("%s: HTTP %d from %s: %s" % (what, resp.status, resp.url, resp.snippet()))
    return resp


def expect_ready(transport, name, path, headers=None):
    """The body snippet of a ``GET path`` readiness endpoint, else ProbeError naming ``name`` and the answer."""
    resp = transport.request("GET", path, headers=headers)
    if resp.status != 200:
        raise ProbeError("%s at %s is not ready: HTTP %d %s"
                         % (name, transport.describe(), resp.status, resp.snippet()))
    return resp.snippet()
