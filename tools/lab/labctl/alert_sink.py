"""Where the lab's alerts go: the homelab owner's notification endpoint (an ntfy topic or a chat
webhook on a real homelab), played by a real pod on a real node: ``labhttp`` answering 200 to
Alertmanager's webhook POSTs and logging the alert names of each (``kubectl logs`` shows them).

The webhook URL is the owner's to keep, like a chat webhook's token, so it lives in a Secret the
collection mounts into Alertmanager (``kube_prometheus_stack_alertmanager_secrets``), not in values:
``user_apps`` creates that Secret, this module the workload behind it. Existing objects are left
as they are.
"""

from __future__ import annotations

from .images import LABHTTP_IMAGE
from .kubeapi import KubeApi
from .realnodes import LABEL as REAL_NODE_LABEL

NAMESPACE = "lab-alerts"
NAME = "alert-sink"
PORT = 8080
URL = f"http://{NAME}.{NAMESPACE}.svc.cluster.local:{PORT}/alerts"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "lab-user-apps"}


def deployment() -> dict:
    container = {
        "name": NAME, "image": LABHTTP_IMAGE, "imagePullPolicy": "IfNotPresent",
        "args": [f"-listen=:{PORT}"],
        "ports": [{"name": "http", "containerPort": PORT}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": PORT}, "periodSeconds": 2},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "nodeSelector": {REAL_NODE_LABEL: "true"},
                    "tolerations": [{"key": REAL_NODE_LABEL, "operator": "Equal", "value": "true",
                                     "effect": "NoSchedule"}],
                    "automountServiceAccountToken": False,
                    "containers": [container],
                },
            },
        },
    }


def service() -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {"selector": {"app.kubernetes.io/name": NAME},
                 "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]},
    }


def ensure(api: KubeApi) -> list[str]:
    """Create the namespace, Deployment and Service that are missing; what was created."""
    created = []
    api.create_or_exists("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": NAMESPACE}})
    if api.create_or_exists(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", deployment()):
        created.append(f"{NAMESPACE}/deployment/{NAME}")
    if api.create_or_exists(f"/api/v1/namespaces/{NAMESPACE}/services", service()):
        created.append(f"{NAMESPACE}/service/{NAME}")
    return created
