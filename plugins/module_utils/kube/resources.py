# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small REST layer over one HTTP session of kube/http.py (``kube.client.kube_session``).

Objects travel as plain dicts (what the API returns), which keeps predicates and diffs simple and
avoids the typed models' cost. Kinds map to URLs through a built-in table for the core kinds and
discovery of one group/version at a time for everything else (never the whole API), so an idle
run costs one GET per object. Every request is counted by verb (``KubeApi.counts``): the
benchmarks and tests read it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import threading
import time
from collections import Counter

from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.http import (
    PoolSession,
    encode_body,
    query_string,
)

FIELD_MANAGER = "homelab.observability"

# (apiVersion, kind) -> (plural, namespaced): kinds every cluster has, so no discovery is needed.
BUILTIN = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "Service"): ("services", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Pod"): ("pods", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "PersistentVolume"): ("persistentvolumes", False),
    ("v1", "Event"): ("events", True),
    ("v1", "Node"): ("nodes", False),
    ("v1", "Endpoints"): ("endpoints", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("storage.k8s.io/v1", "StorageClass"): ("storageclasses", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("customresourcedefinitions", False),
    ("apiregistration.k8s.io/v1", "APIService"): ("apiservices", False),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"): ("validatingwebhookconfigurations", False),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"): ("mutatingwebhookconfigurations", False),
    ("scheduling.k8s.io/v1", "PriorityClass"): ("priorityclasses", False),
    ("coordination.k8s.io/v1", "Lease"): ("leases", True),
}

WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")


def _is_dry_run(query):
    items = query.items() if isinstance(query, dict) else (query or ())
    return any(key == "dryRun" and value for key, value in items)


class KubeApiError(KubeError):
    def __init__(self, status, reason, message, method=None, path=None):
        self.status = status
        self.reason = reason
        self.api_message = message
        self.method = method
        self.path = path
        super().__init__("%s %s: %s %s: %s" % (method, path, status, reason, message))


class UnknownKind(KubeError):
    """The API server does not serve this apiVersion/kind (for example: its CRD is not installed yet)."""


class TLSVerifyError(KubeError):
    """The client could not verify the API server's certificate: final, a retry cannot fix it."""


class ConnectionRefused(KubeError):
    """Nothing listens at the configured endpoint (raised only when the caller asked for it)."""


class Ref:
    """Identity of one object: apiVersion, kind, namespace (None when cluster-scoped), name."""

    __slots__ = ("api_version", "kind", "namespace", "name")

    def __init__(self, api_version, kind, namespace, name):
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace or None
        self.name = name

    @classmethod
    def of(cls, obj, default_namespace=None):
        meta = obj.get("metadata") or {}
        return cls(obj.get("apiVersion"), obj.get("kind"), meta.get("namespace") or default_namespace, meta.get("name"))

    @property
    def group(self):
        return self.api_version.split("/", 1)[0] if "/" in self.api_version else ""

    def key(self):
        return (self.group, self.kind, self.namespace or "", self.name)

    def __eq__(self, other):
        return isinstance(other, Ref) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __str__(self):
        if self.namespace:
            return "%s %s/%s" % (self.kind, self.namespace, self.name)
        return "%s %s" % (self.kind, self.name)

    __repr__ = __str__


def scoped_ref(api, obj, default_namespace=None):
    """The Ref of ``obj``, without a namespace when its kind is cluster-scoped; raises UnknownKind."""
    ref = Ref.of(obj, default_namespace)
    if not api.namespaced(ref.api_version, ref.kind):
        ref.namespace = None
    return ref


class KubeApi:
    """Thread-safe enough for the waves module: discovery cache under a lock, counters under a lock."""

    def __init__(self, session, retry_seconds=30):
        """``session``: a session of kube/http.py (``kube.client.kube_session``), or a kubernetes ``ApiClient``."""
        self.session = session if hasattr(session, "send") else PoolSession.of_api_client(session)
        self.retry_seconds = retry_seconds
        self.counts = Counter()
        # called before every request that writes (not a dry run): the waves module takes its deploy lock there
        self.before_write = None
        self._lock = threading.Lock()
        self._discovery = {}

    @property
    def host(self):
        return self.session.host

    @property
    def connection(self):
        """The session's ``Connection`` (what helm is given), or None for a session without one."""
        return getattr(self.session, "connection", None)

    def version(self, refused_is_final=False):
        """The server's /version document, asked once per session (every component's KubeApi shares it)."""
        doc = getattr(self.session, "server_version", None)
        if doc is None:
            doc = self.request("GET", "/version", refused_is_final=refused_is_final) or {}
            self.session.server_version = doc
        return doc

    # -- transport -------------------------------------------------------------------------------
    def request(self, method, path, query=None, body=None, *, content_type=None, accept_404=False,
                refused_is_final=False):
        """One API call, retried while the API server is unreachable or overloaded.

        Connection failures (the request never reached a server: an apiserver restart, a failover)
        are retried for every verb, which is safe because the writes are server-side applies and
        deletes, and the lock's create and update (kube/lease.py) recognise their own earlier
        success in the 409 a retry gets; 429 and 5xx answers are retried for reads. Retries stop after
        ``retry_seconds``. A certificate the client cannot verify is never retried (no wait fixes
        it); ``refused_is_final`` makes a refused connection final too, for the first request of
        a run, when nothing of ours can have restarted the apiserver yet.
        """
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.2
        while True:
            try:
                return self._request_once(method, path, query, body, (content_type, accept_404))
            except _Transient as exc:
                if refused_is_final and exc.refused:
                    raise ConnectionRefused("%s %s failed: %s" % (method, path, exc.cause)) from exc
                if time.monotonic() + delay > deadline:
                    raise KubeError(
                        "%s %s failed: %s (retried for %ds)" % (method, path, exc.cause, self.retry_seconds)
                    ) from exc
                with self._lock:
                    self.counts["retries"] += 1
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _request_once(self, method, path, query, body, options):
        content_type, accept_404 = options
        headers = {"Accept": "application/json"}
        if body is not None:
            # JSON is also valid YAML for apply patches
            headers["Content-Type"] = content_type or "application/json"
        resp = self._exchange(method, path, query, body, headers)
        status = resp.status
        if status == 404 and accept_404:
            return None
        if method == "GET" and (status == 429 or status >= 500):
            raise _Transient(_api_error(status, resp.body, method, path))
        if not 200 <= status <= 299:
            raise _api_error(status, resp.body, method, path)
        return json.loads(resp.body) if resp.body else None

    def send(self, method, path, params=None, body=None, headers=None, *, timeout=None):
        """One exchange, no retries, no redirects: the ``Response`` whatever its status (the probes judge it).

        Raises ``TLSVerifyError`` or ``KubeError`` when no HTTP answer came back.
        """
        headers = dict(headers or {})
        try:
            return self._exchange(method, path, params, body, headers, timeout=timeout, follow=False)
        except _Transient as exc:
            raise KubeError("%s %s failed: %s" % (method, path, exc.cause)) from exc

    def _exchange(self, method, path, query, body, headers, **options):
        """The session's Response; a failure without an answer becomes TLSVerifyError, _Transient or KubeError."""
        data = encode_body(body, headers)
        if self.before_write is not None and method in WRITE_VERBS and not _is_dry_run(query):
            self.before_write()
        with self._lock:
            self.counts[method] += 1
        try:
            return self.session.send(method, path + query_string(query), data, headers, **options)
        except Exception as exc:  # urllib3 and urllib: connection refused, TLS, timeouts
            if _is_cert_error(exc):
                raise TLSVerifyError("%s %s failed: %s" % (method, path, exc)) from exc
            if _is_connection_error(exc):
                raise _Transient(exc, refused=_is_refused(exc)) from exc
            raise KubeError("%s %s failed: %s" % (method, path, exc)) from exc

    def list_all(self, path, params=None, page=500):
        """Every item of the list endpoint ``path``, page by page (``continue`` tokens)."""
        return paginate(lambda query: self.request("GET", path, query=query), params, page)

    # -- discovery -------------------------------------------------------------------------------
    def resource(self, api_version, kind):
        """(plural, namespaced) for apiVersion/kind; raises UnknownKind."""
        builtin = BUILTIN.get((api_version, kind))
        if builtin:
            return builtin
        with self._lock:
            table = self._discovery.get(api_version)
        if table is None or kind not in table:
            table = self._discover(api_version)
        if kind not in table:
            raise UnknownKind(
                "the API server does not serve kind %s in %s: install its CRD first (or check the apiVersion)"
                % (kind, api_version)
            )
        return table[kind]

    def _discover(self, api_version):
        path = "/api/v1" if api_version == "v1" else "/apis/%s" % api_version
        doc = self.request("GET", path, accept_404=True) or {}
        table = {}
        for res in doc.get("resources") or []:
            if "/" in res.get("name", ""):
                continue
            table[res["kind"]] = (res["name"], bool(res.get("namespaced")))
        with self._lock:
            self._discovery[api_version] = table
        return table

    def forget(self, api_version=None):
        with self._lock:
            if api_version:
                self._discovery.pop(api_version, None)
            else:
                self._discovery.clear()

    def path(self, ref, name=True):
        plural, namespaced = self.resource(ref.api_version, ref.kind)
        base = "/api/v1" if ref.api_version == "v1" else "/apis/%s" % ref.api_version
        if namespaced:
            if not ref.namespace:
                raise KubeError("%s is namespaced: give it a namespace" % ref)
            base += "/namespaces/%s" % ref.namespace
        base += "/" + plural
        if name:
            base += "/" + ref.name
        return base

    def namespaced(self, api_version, kind):
        return self.resource(api_version, kind)[1]

    # -- verbs -----------------------------------------------------------------------------------
    def get(self, ref):
        """The live object, or None when it does not exist."""
        return self.request("GET", self.path(ref), accept_404=True)

    def list(self, api_version, kind, namespace=None, *, label_selector=None, field_selector=None, limit=None,
             resource_version=None):
        """Items of a list; ``resource_version="0"`` lets the apiserver answer from its watch cache (any
        recent state, no read from etcd)."""
        plural, namespaced = self.resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else "/apis/%s" % api_version
        if namespaced and namespace:
            base += "/namespaces/%s" % namespace
        query = {"labelSelector": label_selector, "fieldSelector": field_selector, "limit": limit,
                 "resourceVersion": resource_version}
        return (self.request("GET", base + "/" + plural, query=query) or {}).get("items") or []

    def apply(self, obj, dry_run=False, force=True, field_manager=FIELD_MANAGER, default_namespace=None):
        """Server-side apply of ``obj``; returns the object the server stored (or would store)."""
        ref = Ref.of(obj, default_namespace)
        if ref.namespace and self.namespaced(ref.api_version, ref.kind):
            obj = dict(obj, metadata=dict(obj.get("metadata") or {}, namespace=ref.namespace))
        query = {
            "fieldManager": field_manager,
            "force": "true" if force else None,
            "dryRun": "All" if dry_run else None,
        }
        return self.request("PATCH", self.path(ref), query=query, body=obj, content_type="application/apply-patch+yaml")

    def create(self, obj):
        """POST ``obj`` (its namespace from its metadata); a 409 (AlreadyExists) raises ``KubeApiError``."""
        return self.request("POST", self.path(Ref.of(obj), name=False), body=obj)

    def replace(self, obj):
        """PUT ``obj``; with ``metadata.resourceVersion`` set, a 409 (Conflict) says someone wrote it since."""
        return self.request("PUT", self.path(Ref.of(obj)), body=obj)

    def delete(self, ref, propagation="Background", resource_version=None):
        """``resource_version``: delete only that version (a 409 when the object changed since)."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        return self.request("DELETE", self.path(ref), body=body, accept_404=True)

    def writes(self):
        return sum(self.counts[v] for v in WRITE_VERBS)


def paginate(fetch, params=None, page=500):
    """Every item of a list, ``fetch(query)`` returning one page's document, following ``continue`` tokens."""
    items, token = [], None
    while True:
        query = dict(params or {}, limit=str(page))
        if token:
            query["continue"] = token
        body = fetch(query) or {}
        items.extend(body.get("items") or [])
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return items


class _Transient(Exception):
    def __init__(self, cause, refused=False):
        self.cause = cause
        self.refused = refused
        super().__init__(str(cause))


def _chain(exc):
    """``exc`` and what it wraps: urllib3 keeps the cause in ``reason``, Python in __cause__/__context__."""
    seen, todo = [], [exc]
    while todo:
        cur = todo.pop()
        if any(cur is s for s in seen) or len(seen) > 20:
            continue
        seen.append(cur)
        reason = getattr(cur, "reason", None)
        todo.extend(c for c in (reason, cur.__cause__, cur.__context__) if isinstance(c, BaseException))
    return seen


def _is_cert_error(exc):
    # SSLCertVerificationError covers an unknown CA and a name mismatch; other SSL errors (an EOF while
    # the apiserver restarts) stay transient. The client library sometimes keeps only the text.
    return any(type(cur).__name__ == "SSLCertVerificationError" or "CERTIFICATE_VERIFY_FAILED" in str(cur)
               for cur in _chain(exc))


def _is_refused(exc):
    return any(isinstance(cur, ConnectionRefusedError) or "Connection refused" in str(cur) for cur in _chain(exc))


def _is_connection_error(exc):
    names = {cls.__name__ for cls in type(exc).__mro__}
    reason = getattr(exc, "reason", None)
    if reason is not None:
        names |= {cls.__name__ for cls in type(reason).__mro__}
    return bool(names & {"NewConnectionError", "ConnectionError", "ProtocolError", "MaxRetryError",
                         "ConnectionRefusedError", "ConnectionResetError", "RemoteDisconnected"})


def _api_error(status, data, method, path):
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    reason, message = "", data
    try:
        doc = json.loads(data)
        reason, message = doc.get("reason", ""), doc.get("message", data)
    except (ValueError, TypeError, AttributeError):
        pass
    return KubeApiError(status, reason, message, method, path)
