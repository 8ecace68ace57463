"""A timed end-to-end check: a Deployment through the real scheduler, controllers and kwok."""

from __future__ import annotations

import time

from .kubeapi import ApiError
from .paths import LabError


def deployment_ready_seconds(lab, replicas: int = 3, timeout: float = 120) -> float:
    """Seconds from creating a namespace and a Deployment to all replicas Ready (then both go)."""
    api = lab.api()
    namespace = f"lab-smoke-{int(time.time() * 1000) % 10**8}"
    t0 = time.monotonic()
    api.create_or_exists("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": namespace}})
    labels = {"app": "smoke"}
    dep = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "smoke"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}},
    }
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    try:
        while True:
            try:
                api.create(path, dep)
                break
            except ApiError:  # the namespace's default ServiceAccount may not exist yet
                if time.monotonic() - t0 > timeout:
                    raise
                time.sleep(0.2)
        while time.monotonic() - t0 < timeout:
            status = api.get(f"{path}/smoke").get("status", {})
            if status.get("readyReplicas") == replicas:
                return time.monotonic() - t0
            time.sleep(0.2)
        raise LabError(f"the smoke Deployment did not become Ready within {timeout:.0f}s: {status}")
    finally:
        api.delete(f"/api/v1/namespaces/{namespace}")
