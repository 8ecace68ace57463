"""What a homelab has before it installs the stack, and the lab lacks: the *arr apps' API keys.

The exportarr role reads each app's API key from a Secret the user keeps (``<app>-api-key``, key
``api-key``, in the ``arr`` namespace: the role's defaults); it never creates them. The lab creates
them with random keys before ``make lab`` runs the main job, so the exporters' pods can start on the
real node. Existing Secrets are left as they are.
"""

from __future__ import annotations

import base64
import secrets

from .kubeapi import KubeApi

NAMESPACE = "arr"
APPS = ("sonarr", "radarr", "prowlarr", "bazarr")


def ensure(api: KubeApi, namespace: str = NAMESPACE, apps=APPS) -> list[str]:
    """Create the namespace and the missing API-key Secrets; the Secrets created."""
    api.create_or_exists("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": namespace}})
    created = []
    for app in apps:
        key = base64.b64encode(secrets.token_hex(16).encode()).decode()
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": f"{app}-api-key", "namespace": namespace,
                               "labels": {"app.kubernetes.io/part-of": "lab-user-apps"}},
                  "data": {"api-key": key}}
        if api.create_or_exists(f"/api/v1/namespaces/{namespace}/secrets", secret):
            created.append(f"{namespace}/{app}-api-key")
    return created
