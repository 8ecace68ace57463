"""Drift on the lab: a release Helm sees as unchanged whose CRD (in templates/, as prometheus-operator-crds
keeps them) and Deployment were deleted and whose ConfigMap was edited out of band is repaired in one
run, the result naming each object; a CRD field helm 3 does not restore (two-way patch) is applied;
the next rerun writes nothing. Manifests: a removed exportarr target is pruned. Each release test runs
with helm v3 and v4."""

import json

import pytest
from deploy_helpers import CHARTS, crds_for, kubectl, writes_in

pytestmark = pytest.mark.lab


@pytest.fixture(params=["v3", "v4"])
def helm(request, helm_paths):
    return helm_paths[request.param]


def test_a_drifted_release_is_repaired_in_one_run_and_the_rerun_writes_nothing(lab, run, namespace, helm):
    crd = "gadgets.%s.homelab.local" % namespace
    args = {"name": "drift", "namespace": namespace, "chart": {"ref": str(CHARTS / "drift-like")},
            "binary_path": helm, "wait_timeout": 120}
    first = run("release", args)
    assert not first.get("failed"), first.get("msg")
    assert first["health"] == "Healthy" and "drift" not in first

    since = lab.now()
    assert not run("release", args)["changed"]
    assert writes_in(lab, since, namespace, [crd]) == []  # the drift check reads only

    kubectl(lab, "delete", "customresourcedefinition", crd, "--wait=true")
    kubectl(lab, "-n", namespace, "delete", "deployment", "drift", "--wait=true")
    kubectl(lab, "-n", namespace, "patch", "configmap", "drift-config", "--type=merge",
            "-p", json.dumps({"data": {"greeting": "edited"}}))
    repaired = run("release", args)
    assert not repaired.get("failed"), repaired.get("msg")
    assert repaired["changed"] and repaired["health"] == "Healthy" and repaired["plan"]["action"] == "upgrade"
    assert sorted((d["kind"], d["name"], d["drift"]) for d in repaired["drift"]) == [
        ("ConfigMap", "drift-config", "data.greeting"), ("CustomResourceDefinition", crd, "missing"),
        ("Deployment", "drift", "missing")]
    assert "live objects drifted from the release" in repaired["plan"]["reasons"][0]
    assert json.loads(kubectl(lab, "-n", namespace, "get", "configmap", "drift-config", "-o", "json"))[
        "data"]["greeting"] == "hello"
    kubectl(lab, "get", "customresourcedefinition", crd)

    # a CRD's own field: helm 3 patches CRDs two-way (stored against rendered, the same), so it stays edited
    # unless the engine applies it
    kubectl(lab, "label", "--overwrite", "customresourcedefinition", crd, "tier=edited")
    relabelled = run("release", args)
    assert [(d["kind"], d["drift"]) for d in relabelled["drift"]] == [
        ("CustomResourceDefinition", "metadata.labels.tier")]
    labels = json.loads(kubectl(lab, "get", "customresourcedefinition", crd, "-o", "json"))["metadata"]["labels"]
    assert labels["tier"] == "crds"

    since = lab.now()
    again = run("release", args)
    assert not again["changed"] and "drift" not in again
    writes = writes_in(lab, since, namespace, [crd])
    assert writes == [], lab.describe(writes)
    kubectl(lab, "delete", "customresourcedefinition", crd, "--wait=false")


def exportarr_manifests(namespace, targets):
    """The exportarr role's shape per target (Deployment, Service, ServiceMonitor), the ServiceMonitor CRD
    in an API group of this test's own."""
    crd = next(c for c in crds_for(namespace) if c["spec"]["names"]["kind"] == "ServiceMonitor")
    out = [crd]
    for name in targets:
        app = "exportarr-" + name
        labels = {"app.kubernetes.io/name": "exportarr", "app.kubernetes.io/instance": app,
                  "app.kubernetes.io/managed-by": "homelab.observability"}
        meta = {"name": app, "namespace": namespace, "labels": labels}
        out += [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
             "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                      "template": {"metadata": {"labels": labels},
                                   "spec": {"containers": [{"name": "exportarr", "image": "exportarr:v2",
                                                            "args": [name]}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": meta,
             "spec": {"selector": labels, "ports": [{"name": "metrics", "port": 9707}]}},
            {"apiVersion": crd["spec"]["group"] + "/v1", "kind": "ServiceMonitor", "metadata": meta,
             "spec": {"selector": {"matchLabels": labels}, "endpoints": [{"port": "metrics"}]}},
        ]
    return out


def test_a_removed_manifest_target_is_pruned_and_a_foreign_object_is_kept(lab, run, namespace):
    crd = exportarr_manifests(namespace, [])[0]["metadata"]["name"]
    args = {"name": "exportarr", "namespace": namespace, "wait_timeout": 120}
    first = run("release", dict(args, manifests=exportarr_manifests(namespace, ["sonarr", "radarr"])))
    assert not first.get("failed"), first.get("msg")
    # the component label alone (no managed-by) does not make an object ours
    kubectl(lab, "-n", namespace, "create", "service", "clusterip", "exportarr-by-hand", "--tcp=80:80")
    kubectl(lab, "-n", namespace, "label", "service", "exportarr-by-hand",
            "homelab.observability/component=exportarr", "homelab.observability/component-namespace=" + namespace)

    one = dict(args, manifests=exportarr_manifests(namespace, ["sonarr"]))
    planned = run("release", one, check=True, diff=True)
    removed = [("Deployment", "exportarr-radarr"), ("Service", "exportarr-radarr"),
               ("ServiceMonitor", "exportarr-radarr")]
    assert sorted((p["kind"], p["name"]) for p in planned["pruned"]) == removed
    assert {d["action"] for d in planned["diff"]} == {"delete"}

    pruned = run("release", one)
    assert pruned["changed"] and sorted((p["kind"], p["name"]) for p in pruned["pruned"]) == removed
    left = kubectl(lab, "-n", namespace, "get", "deployments,services,servicemonitors." + crd.split(".", 1)[1],
                   "-o", "name").split()
    assert not [n for n in left if n.endswith("/exportarr-radarr")], left
    assert "deployment.apps/exportarr-sonarr" in left and "service/exportarr-by-hand" in left

    since = lab.now()
    again = run("release", one)
    assert not again["changed"] and again["pruned"] == []
    assert writes_in(lab, since, namespace, [crd]) == []
    kubectl(lab, "delete", "customresourcedefinition", crd, "--wait=false")
