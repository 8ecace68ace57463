# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the probes reach a service: the apiserver's service proxy, or a direct URL.

Every transport has ``request(method, path, params=None, body=None, headers=None)`` returning a
``Response`` whatever the HTTP status (a probe decides what a status means) and raising
``ProbeError`` only when no HTTP answer came back (refused, timeout, TLS failure).

* ``ApiserverTransport`` talks to the Kubernetes API through the shared kube client (``KubeApi``:
  kubeconfig, token, client certificate, CA, the same TLS settings and HTTP path as every other module).
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
from ansible.module_utils.six.moves.urllib.parse import quote
from ansible_collections.homelab.observability.plugins.module_utils.kube import http as kube_http
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError


class ProbeError(Exception):
    """No usable answer from a service; the message says which service and why."""

    user_facing = True


class Response(kube_http.Response):
    """kube/http.py's Response, whose ``json()`` names the URL and the body when it is not JSON."""

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            raise ProbeError("%s answered HTTP %d with a body that is not JSON: %s"
                             % (self.url, self.status, self.snippet())) from None


class DirectTransport:
    """Plain HTTP(S) to a base URL such as ``https://prometheus.homelab.local``."""

    def __init__(self, base_url, validate_certs=True, ca_cert=None, timeout=10.0, opener=None):
        self.base_url = base_url.rstrip("/")
        self.validate_certs = validate_certs
        self.ca_cert = ca_cert
        self.timeout = timeout
        if opener is None:
            # imported only for a direct URL: ansible's urls module costs about 0.2 s (it loads cryptography)
            from ansible.module_utils.urls import open_url as opener  # noqa: PLC0415
        self._open = opener

    def describe(self):
        return self.base_url

    def request(self, method, path, params=None, body=None, headers=None):
        headers = dict(headers or {})
        data = kube_http.encode_body(body, headers)
        url = self.base_url + "/" + path.lstrip("/") + kube_http.query_string(params)
        try:
            resp = self._open(
                url, method=method, data=data, headers=headers, validate_certs=self.validate_certs,
                ca_path=self.ca_cert, timeout=self.timeout, follow_redirects="none", use_proxy=True,
            )
            return Response(resp.getcode() if hasattr(resp, "getcode") else resp.status, resp.read(), resp.headers, url)
        except HTTPError as exc:
            return kube_http.error_response(exc, url, Response)
        except (URLError, OSError, ValueError) as exc:  # timeouts are OSErrors
            reason = getattr(exc, "reason", exc)
            raise ProbeError("%s did not answer: %s" % (url, reason)) from exc


class ApiserverTransport:
    """The shared kube client (``KubeApi``) seen as a probe transport: its TLS, credentials and HTTP path."""

    def __init__(self, api, timeout=10.0):
        self.api = api
        self.timeout = timeout

    def describe(self):
        return self.api.host

    def request(self, method, path, params=None, body=None, headers=None, *, timeout=None):
        try:
            path = "/" + path.lstrip("/")
            resp = self.api.send(method, path, params, body, headers, timeout=timeout or self.timeout)
        except KubeError as exc:
            raise ProbeError("%s did not answer: %s" % (self.api.host.rstrip("/") + path, exc)) from exc
        return Response(resp.status, resp.body, resp.headers, resp.url)


class ServiceProxyTransport:
    """A Service reached through the apiserver: ``/api/v1/namespaces/<ns>/services/<scheme>:<name>:<port>/proxy``."""

    def __init__(self, apiserver, namespace, service, port, *, scheme="http", timeout=None):
        """``apiserver``: an ``ApiserverTransport``, or a function giving one on the first request (a run
        whose checks are all skipped never reads a kubeconfig)."""
        self._apiserver = apiserver
        self.timeout = timeout
        self.namespace = namespace
        self.service = service
        self.port = str(port)
        self.scheme = scheme
        self.prefix = "/api/v1/namespaces/%s/services/%s:%s:%s/proxy" % (
            quote(namespace, safe=""), scheme, quote(service, safe=""), quote(self.port, safe=""))

    @property
    def apiserver(self):
        if callable(self._apiserver):
            self._apiserver = self._apiserver()
        return self._apiserver

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
