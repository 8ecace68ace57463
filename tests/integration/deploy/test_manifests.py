"""Manifests through server-side apply: CRDs Established before their custom resources, no write
on an unchanged rerun (not even a dry run), drift corrected, removal with state=absent."""

import pytest
from deploy_helpers import crds_for, writes_in

pytestmark = pytest.mark.lab


def widgets(namespace, retention="15d"):
    container = {"name": "exportarr", "image": "ghcr.io/onedr0p/exportarr:v2.0.1",
                 "resources": {"requests": {"cpu": "0.05", "memory": "64Mi"}}}
    labels = {"app": "exportarr-sonarr"}
    return crds_for(namespace) + [
        {"apiVersion": namespace + ".homelab.local/v1", "kind": "Prometheus", "metadata": {"name": "main"},
         "spec": {"retention": retention}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "dashboards", "labels": {"grafana_dashboard": "1"}},
         "data": {"capacity.json": "{}"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "exportarr-sonarr"},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}},
    ]


def test_apply_rerun_and_remove(lab, run, namespace):
    crd_names = [c["metadata"]["name"] for c in crds_for(namespace)]
    args = {"name": "exportarr", "namespace": namespace, "manifests": widgets(namespace)}
    first = run("release", args, diff=True)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] and first["health"] == "Healthy"
    order = [(d["kind"], d["action"]) for d in first["diff"]]
    assert order[0] == ("Namespace", "create")
    assert order.index(("CustomResourceDefinition", "create")) < order.index(("Prometheus", "create"))

    since = lab.now()
    again = run("release", args)
    assert not again["changed"] and not set(again["api_requests"]) & {"POST", "PUT", "PATCH", "DELETE"}
    writes = writes_in(lab, since, namespace, crd_names)
    assert writes == [], lab.describe(writes)

    since = lab.now()
    changed = run("release", dict(args, manifests=widgets(namespace, "30d")), diff=True)
    assert changed["changed"] and [d["name"] for d in changed["diff"]] == ["main"]
    assert changed["diff"][0]["after"]["spec"]["retention"] == "30d"
    patches = writes_in(lab, since, namespace, crd_names)
    assert ["dryRun=All" in e["requestURI"] for e in patches] == [True, False], lab.describe(patches)

    gone = run("release", dict(args, state="absent"))
    assert gone["changed"] and gone["health"] == "Missing"
    assert not run("release", dict(args, state="absent"))["changed"]


def test_statefulset_on_a_missing_storage_class_fails_at_the_first_poll(run, namespace):
    labels = {"app": "loki"}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "loki"},
           "spec": {"replicas": 1, "serviceName": "loki", "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels},
                                 "spec": {"containers": [{"name": "loki", "image": "grafana/loki:3.3.2"}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "storage"},
                                              "spec": {"accessModes": ["ReadWriteOnce"],
                                                       "storageClassName": "nfs-does-not-exist",
                                                       "resources": {"requests": {"storage": "1Gi"}}}}]}}
    result = run("release", {"name": "loki", "namespace": namespace, "manifests": [sts], "wait_timeout": 300})
    assert result.get("failed") and result["health"] == "Degraded"
    assert ("its claim PersistentVolumeClaim %s/storage-loki-0 names StorageClass 'nfs-does-not-exist', which does "
            "not exist (the cluster has: " % namespace) in result["msg"]
    assert "nfs-client" in result["msg"]  # the lab's classes (other sessions may add theirs)
    assert result["timing"]["wait"] < 5
