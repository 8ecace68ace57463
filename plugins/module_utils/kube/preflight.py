# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The first request of a deploy: GET /version, so a cause no retry can fix stops the run at once.

Without it a refused connection or an unverifiable certificate surfaced a minute later, after the
retries of the first real request, as the first component's health failure. Here they fail in one
round trip with the input that produced them and the fix; timeouts, 429 and 5xx answers are still
retried (the apiserver may be starting), and a refused connection later in the run is retried too
(the audit role, or an upgrade, restarts the apiserver).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeConfigError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import (
    ConnectionRefused,
    TLSVerifyError,
)


def server_url(api):
    return getattr(api, "host", None) or "the API server"


def check(api, source):
    """The server's /version document; raises KubeConfigError for a final cause.

    ``source`` is (text, kubeconfig_skips_tls) from ``client.describe_source``.
    """
    text, skips_tls = source
    url = server_url(api)
    try:
        return api.version(refused_is_final=True)
    except ConnectionRefused as exc:
        raise KubeConfigError(
            "cannot reach the Kubernetes API server at %s: connection refused (endpoint from %s). Check that the "
            "apiserver runs and listens there, or point 'kubeconfig'/'context' (or 'host') at the right cluster"
            % (url, text)
        ) from exc
    except TLSVerifyError as exc:
        hint = " This collection verifies TLS unless told otherwise"
        if skips_tls:
            hint += ", and does not honour the insecure-skip-tls-verify that cluster sets in the kubeconfig"
        raise KubeConfigError(
            "TLS verification of the Kubernetes API server at %s failed (endpoint from %s): %s.%s. Give the CA that"
            " signed the apiserver's certificate with 'ca_cert' (or K8S_AUTH_SSL_CA_CERT), or set"
            " 'validate_certs: false' (or K8S_AUTH_VERIFY_SSL=no) to skip verification"
            % (url, text, _short(exc), hint)
        ) from exc


def _short(exc):
    """The verification reason alone: urllib3's text repeats the pool, the URL and OpenSSL's source line."""
    found = _REASON.search(str(exc))
    return ("certificate verify failed: %s" % found.group(1).rstrip(". ")) if found else str(exc)


_REASON = re.compile(r"certificate verify failed: (.*?)(?: \(_ssl\.c:\d+\)|$)")
