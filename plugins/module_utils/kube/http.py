# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP exchange under ``KubeApi``: one request in, one ``Response`` out, whatever the status.

``PoolSession`` sends through a urllib3 pool: the one of a kubernetes ``ApiClient`` (its TLS settings
and its bearer token, refreshed by the library when an exec plugin gave it), or its own, built from a
``Connection``; ``UrlSession`` sends with ``ansible.module_utils.urls.open_url`` from a ``Connection``,
for a host without urllib3. Both raise the transport's own exception when no HTTP answer came back; ``KubeApi``
classifies it (certificate, refused, transient).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.six.moves.urllib.parse import urlencode

SNIPPET = 200
USER_AGENT = "homelab.observability"


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


def encode_body(body, headers):
    """``body`` as sent: bytes and text as they are, anything else as JSON (Content-Type defaulted)."""
    if body is None or isinstance(body, (bytes, str)):
        return body
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(body)


def query_string(params):
    if not params:
        return ""
    items = params.items() if isinstance(params, dict) else params
    return "?" + urlencode([(k, v) for k, v in items if v is not None])


class PoolSession:
    """Requests over a urllib3 pool: a kubernetes ``ApiClient``'s (``of_api_client``), or one built from a
    ``Connection`` (``of_connection``) so a run whose kubeconfig needs nothing of that library never imports it.

    Every request has a timeout: without one a half-open connection (an apiserver host that went away
    without a reset) would hang the module, and the deploy lock's renewer, for good. The read timeout
    is per socket read, so a large answer that keeps arriving is not cut.
    """

    connect_timeout = 10.0
    read_timeout = 60.0

    def __init__(self, pool, host, auth_headers, secrets=(), connection=None):
        """``auth_headers``: called per request (the library refreshes an exec plugin's token there);
        ``connection``: the ``Connection`` the pool was built from, which helm is given too."""
        import urllib3  # noqa: PLC0415 - only the sessions that send through a pool need it

        self._urllib3 = urllib3
        self.pool = pool
        self.host = host.rstrip("/")
        self._auth_headers = auth_headers
        self.secrets = set(secrets)
        self.connection = connection

    @classmethod
    def of_api_client(cls, api_client, secrets=(), connection=None):
        configuration = api_client.configuration

        def auth_headers():
            headers = {}
            for setting in (configuration.auth_settings() or {}).values():
                if setting.get("in") == "header" and setting.get("value"):
                    headers[setting["key"]] = setting["value"]
            return headers

        return cls(api_client.rest_client.pool_manager, configuration.host, auth_headers, secrets, connection)

    @classmethod
    def of_connection(cls, connection, maxsize=16):
        """``maxsize``: connections kept per host; the waves module sends from one thread per component."""
        import urllib3  # noqa: PLC0415

        options = {"cert_reqs": "CERT_REQUIRED" if connection.validate_certs else "CERT_NONE"}
        if connection.validate_certs and connection.ca:
            options["ca_certs"] = connection.ca
        if connection.cert:
            options["cert_file"] = connection.cert
        if connection.key:
            options["key_file"] = connection.key
        headers = {"Authorization": "Bearer %s" % connection.token} if connection.token else {}
        pool = urllib3.PoolManager(num_pools=4, maxsize=maxsize, block=False, **options)
        return cls(pool, connection.server, lambda: dict(headers), [connection.token] if connection.token else (),
                   connection)

    def send(self, method, url, body=None, headers=None, *, timeout=None, follow=True):
        """``follow=False``: no redirects and no urllib3 retries (a probe answers for itself)."""
        headers = dict(headers or {}, **self._auth_headers())
        headers.setdefault("User-Agent", USER_AGENT)
        options = {} if follow else {"redirect": False, "retries": False}
        if timeout:
            options["timeout"] = self._urllib3.Timeout(total=timeout)
        else:
            options["timeout"] = self._urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout)
        resp = self.pool.request(method, self.host + url, body=body, headers=headers, preload_content=True, **options)
        return Response(resp.status, resp.data, resp.headers, self.host + url)


class UrlSession:
    """Requests with ``open_url`` from a ``kube.connection.Connection``."""

    def __init__(self, connection, timeout=30):
        self.connection = connection
        self.timeout = timeout

    @property
    def host(self):
        return self.connection.server

    def send(self, method, url, body=None, headers=None, *, timeout=None, follow=True):
        # imported here: ansible's urls module costs about 0.2 s (it loads cryptography), more than a no-op run
        from ansible.module_utils.urls import open_url  # noqa: PLC0415

        conn = self.connection
        headers = dict(headers or {})
        if conn.token:
            headers["Authorization"] = "Bearer %s" % conn.token
        headers.setdefault("User-Agent", USER_AGENT)
        full = conn.server + url
        try:
            resp = open_url(full, method=method, headers=headers, data=body, validate_certs=conn.validate_certs,
                            ca_path=conn.ca, client_cert=conn.cert, client_key=conn.key,
                            timeout=timeout or self.timeout, use_proxy=False,
                            follow_redirects="safe" if follow else "none")
            return Response(resp.getcode(), resp.read(), resp.headers, full)
        except HTTPError as exc:
            return error_response(exc, full)


def error_response(exc, url, response=Response):
    """The ``response`` (class) of an ``HTTPError``: a status other than 2xx is an answer too."""
    try:
        data = exc.read()
    except Exception:
        data = b""
    return response(exc.code, data or b"", exc.headers, url)
