# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few Kubernetes API calls the checks make, over an ApiserverTransport (the shared ``KubeApi``).

The checks judge each answer's status themselves (a 404 is "not served", not a failure of the
client), so these go through ``KubeApi.send`` rather than its retrying ``request``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible.module_utils.six.moves.urllib.parse import quote
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import paginate
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import ProbeError


class NotServed(ProbeError):
    """The API path does not exist (a CRD that is not installed, a namespace that is missing)."""


def _status_message(resp):
    try:
        body = resp.json()
        return body.get("message") or resp.snippet()
    except ProbeError:
        return resp.snippet()


def list_items(apiserver, path, params=None, page=500):
    """Every item of a list endpoint, following ``continue`` tokens (kube/resources.paginate)."""

    def fetch(query):
        resp = apiserver.request("GET", path, query)
        if resp.status == 404:
            raise NotServed("the Kubernetes API does not serve %s: %s" % (path, _status_message(resp)))
        if not resp.ok:
            raise ProbeError("listing %s failed: HTTP %d %s" % (path, resp.status, _status_message(resp)))
        return resp.json()

    return paginate(fetch, params, page)


def node_names(apiserver, label_selector=None):
    params = {"labelSelector": label_selector} if label_selector else None
    return sorted(n["metadata"]["name"] for n in list_items(apiserver, "/api/v1/nodes", params))


def secret_values(apiserver, namespace, name, keys):
    """Decoded values of ``keys`` in Secret namespace/name (callers keep them out of logs)."""
    path = "/api/v1/namespaces/%s/secrets/%s" % (quote(namespace, safe=""), quote(name, safe=""))
    resp = apiserver.request("GET", path)
    if resp.status == 404:
        raise ProbeError("Secret %s/%s does not exist" % (namespace, name))
    if not resp.ok:
        raise ProbeError("reading Secret %s/%s failed: HTTP %d %s"
                         % (namespace, name, resp.status, _status_message(resp)))
    data = resp.json().get("data") or {}
    missing = [k for k in keys if k not in data]
    if missing:
        raise ProbeError("Secret %s/%s has no key %s (keys present: %s)" % (
            namespace, name, ", ".join(missing), ", ".join(sorted(data)) or "none"))
    return [base64.b64decode(data[k]).decode("utf-8") for k in keys]


def create(apiserver, namespace, resource, body):
    """Create a core/v1 object; returns (object, audit ID of the request)."""
    path = "/api/v1/namespaces/%s/%s" % (quote(namespace, safe=""), resource)
    resp = apiserver.request("POST", path, body=body)
    if not resp.ok:
        raise ProbeError("creating %s %s/%s failed: HTTP %d %s" % (
            resource, namespace, body["metadata"]["name"], resp.status, _status_message(resp)))
    return resp.json(), resp.header("audit-id")


def delete(apiserver, namespace, resource, name):
    path = "/api/v1/namespaces/%s/%s/%s" % (quote(namespace, safe=""), resource, quote(name, safe=""))
    resp = apiserver.request("DELETE", path)
    if not resp.ok and resp.status != 404:
        raise ProbeError("deleting %s %s/%s failed: HTTP %d %s" % (resource, namespace, name, resp.status,
                                                                   _status_message(resp)))
    return resp.header("audit-id")
