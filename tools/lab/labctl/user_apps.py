"""What a homelab has before it installs the stack, and the lab lacks: the Secrets the user keeps.

The exportarr role reads each app's API key from a Secret the user keeps (``<app>-api-key``, key
``api-key``, in the ``arr`` namespace: the role's defaults), and Grafana its admin credentials from
``grafana-admin`` (keys ``admin-user``, ``admin-password``, in ``monitoring``: the seed's name); the
collection never creates either (the credentials are the user's, or synced by External Secrets). The
same goes for the URL of the owner's notification webhook (``lab-alert-webhook``, key ``url``, in
``monitoring``: the lab's inventory mounts it into Alertmanager; ``alert_sink`` runs what answers it). The
lab creates them with random values before ``make lab`` runs the main job, so those pods can start on
the real node. Existing Secrets are left as they are.
"""

from __future__ import annotations

import base64
import secrets

from . import alert_sink
from .kubeapi import KubeApi

NAMESPACE = "arr"
APPS = ("sonarr", "radarr", "prowlarr", "bazarr")
GRAFANA_NAMESPACE = "monitoring"
GRAFANA_SECRET = "grafana-admin"
WEBHOOK_SECRET = "lab-alert-webhook"
LABEL = {"app.kubernetes.io/part-of": "lab-user-apps"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _namespace(api: KubeApi, name: str) -> None:
    api.create_or_exists("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": name}})


def _secret(api: KubeApi, namespace: str, name: str, data: dict) -> bool:
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": name, "namespace": namespace, "labels": dict(LABEL)},
              "data": {key: _b64(value) for key, value in data.items()}}
    return api.create_or_exists(f"/api/v1/namespaces/{namespace}/secrets", secret)


def ensure(api: KubeApi, namespace: str = NAMESPACE, apps=APPS) -> list[str]:
    """Create the namespaces and the missing Secrets; the Secrets created."""
    created = []
    _namespace(api, namespace)
    for app in apps:
        if _secret(api, namespace, f"{app}-api-key", {"api-key": secrets.token_hex(16)}):
            created.append(f"{namespace}/{app}-api-key")
    _namespace(api, GRAFANA_NAMESPACE)
    if _secret(api, GRAFANA_NAMESPACE, GRAFANA_SECRET,
               {"admin-user": "admin", "admin-password": secrets.token_urlsafe(18)}):
        created.append(f"{GRAFANA_NAMESPACE}/{GRAFANA_SECRET}")
    if _secret(api, GRAFANA_NAMESPACE, WEBHOOK_SECRET, {"url": alert_sink.URL}):
        created.append(f"{GRAFANA_NAMESPACE}/{WEBHOOK_SECRET}")
    return created
