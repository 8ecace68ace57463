# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a verify_* module reaches a service (option ``access``).

Mirrored by the doc fragment ``homelab.observability.service_access``; keep both in step.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import (
    ApiserverTransport,
    DirectTransport,
    ProbeError,
    ServiceProxyTransport,
)

ACCESS_OPTIONS = {
    "url": {"type": "str"},
    "namespace": {"type": "str"},
    "service": {"type": "str"},
    "port": {"type": "str"},
    "scheme": {"type": "str", "choices": ["http", "https"], "default": "http"},
    "validate_certs": {"type": "bool", "default": True},
    "ca_cert": {"type": "path"},
    "timeout": {"type": "float", "default": 10.0},
}


def access_spec():
    """The ``access`` option: a fresh copy per module."""
    return {"type": "dict", "default": {}, "options": {name: dict(spec) for name, spec in ACCESS_OPTIONS.items()}}


def resolve_access(access, default_service):
    """Fill namespace/service/port from the module's chart default when no URL is given."""
    merged = dict((name, spec.get("default")) for name, spec in ACCESS_OPTIONS.items())
    merged.update(dict((k, v) for k, v in (access or {}).items() if v is not None))
    if not merged.get("url"):
        for key in ("namespace", "service", "port"):
            if not merged.get(key):
                merged[key] = default_service[key]
    return merged


class KubeSession:
    """One kube client (``KubeApi``) per module run, created on first use (a URL-only run never needs one)."""

    def __init__(self, auth_params, timeout=10.0, factory=None):
        self.auth_params = auth_params
        self.timeout = timeout
        self._factory = factory
        self._apiserver = None

    @property
    def apiserver(self):
        if self._apiserver is None:
            factory = self._factory
            if factory is None:
                # resolved on first use: a run that only reaches URLs (or whose checks are all skipped)
                # never reads a kubeconfig
                from ansible_collections.homelab.observability.plugins.module_utils.kube.client import (  # noqa: PLC0415
                    kube_api,
                )

                factory = kube_api
            try:
                self._apiserver = ApiserverTransport(factory(self.auth_params), timeout=self.timeout)
            except KubeError as exc:
                raise ProbeError("cannot reach the Kubernetes API: %s" % exc) from exc
        return self._apiserver


def build_transport(access, default_service, kube):
    """A transport for ``access`` (direct URL, else the service proxy through ``kube``)."""
    resolved = resolve_access(access, default_service)
    if resolved.get("url"):
        return DirectTransport(resolved["url"], validate_certs=resolved["validate_certs"],
                               ca_cert=resolved.get("ca_cert"), timeout=resolved["timeout"])
    return ServiceProxyTransport(lambda: kube.apiserver, resolved["namespace"], resolved["service"], resolved["port"],
                                 scheme=resolved["scheme"], timeout=resolved["timeout"])
