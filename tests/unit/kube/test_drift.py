"""Drift of applied objects against the live cluster: one LIST per kind and namespace, only the
fields the object sets, compared as the API normalises them."""

import copy

from ansible_collections.homelab.observability.plugins.module_utils.kube import drift as kd

from tests.fakes.kube_api import FakeApi

LABELS = {"app.kubernetes.io/instance": "app", "app.kubernetes.io/managed-by": "Helm"}


def cm(name, **labels):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns", "labels": dict(LABELS, **labels)}, "data": {"k": name}}


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "app", "namespace": "ns", "annotations": {}},
    "spec": {"replicas": 1, "template": {"metadata": {"creationTimestamp": None}, "spec": {"containers": [
        {"name": "app", "image": "app:1", "env": [{"name": "EMPTY", "value": ""}],
         "resources": {"requests": {"cpu": 0.1, "memory": "1Gi"}, "limits": {"cpu": 1}}}]}}},
}
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "things.example.com", "namespace": "ns"},
       "spec": {"group": "example.com", "names": {"kind": "Thing", "plural": "things"}, "scope": "Namespaced"},
       "status": {"acceptedNames": {"kind": "", "plural": ""}, "conditions": [], "storedVersions": []}}


def live_of(obj):
    """What the API server returns for ``obj``: quantities canonical, empty values omitted, its own status."""
    live = copy.deepcopy(obj)
    live["metadata"].pop("annotations", None)
    live["metadata"]["resourceVersion"] = "7"
    if obj["kind"] == "Deployment":
        container = live["spec"]["template"]["spec"]["containers"][0]
        container["env"] = [{"name": "EMPTY"}]
        container["resources"] = {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1"}}
        container["imagePullPolicy"] = "IfNotPresent"
        live["status"] = {"replicas": 1}
    if obj["kind"] == "CustomResourceDefinition":
        live["metadata"].pop("namespace")
        live["status"] = {"acceptedNames": {"kind": "Thing", "plural": "things"}, "storedVersions": ["v1"]}
    return live


OBJECTS = [cm("a"), cm("b"), DEPLOYMENT, CRD]


def cluster(objects=OBJECTS):
    return FakeApi([live_of(o) for o in objects])


def test_a_healthy_set_has_no_drift_and_costs_one_list_per_kind_and_namespace():
    api = cluster()
    assert kd.find(api, OBJECTS, "ns") == []
    assert api.counts["LIST"] == 3 and api.counts["GET"] == 0 and api.writes() == 0
    selectors = {c[1]: (c[3], c[4]) for c in api.list_calls}
    assert selectors["ConfigMap"] == (",".join("%s=%s" % kv for kv in sorted(LABELS.items())), None)
    assert selectors["Deployment"] == (None, "metadata.name=app")
    assert api.list_calls[-1][2] is None  # the CRD is cluster-scoped: listed without a namespace


def test_a_missing_object_and_an_edited_field_are_named():
    api = cluster()
    del api.objects[next(r for r in api.objects if r.name == "b")]
    live = next(o for r, o in api.objects.items() if r.kind == "Deployment")
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "app:edited"
    found = [d.result() for d in kd.find(api, OBJECTS, "ns")]
    assert found == [
        {"kind": "ConfigMap", "namespace": "ns", "name": "b", "drift": "missing"},
        {"kind": "Deployment", "namespace": "ns", "name": "app", "drift": "spec.template.spec.containers[0].image"},
    ]


def test_a_changed_quantity_is_drift_but_the_same_value_written_otherwise_is_not():
    api = cluster([DEPLOYMENT])
    live = next(iter(api.objects.values()))
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "200m"
    assert [d.what for d in kd.find(api, [DEPLOYMENT], "ns")] == [
        "spec.template.spec.containers[0].resources.requests.cpu"]


def test_the_objects_of_a_kind_no_longer_served_are_missing_without_a_request():
    thing = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t", "namespace": "ns"}}
    api = cluster([])
    found = kd.find(api, [thing], "ns")
    assert [(d.ref.kind, d.what) for d in found] == [("Thing", "missing")]
    assert api.counts["LIST"] == 0


def test_a_label_removed_live_counts_as_missing_from_the_selected_list():
    api = cluster([cm("a"), cm("b")])
    live = next(o for r, o in api.objects.items() if r.name == "a")
    del live["metadata"]["labels"]["app.kubernetes.io/instance"]
    assert [(d.ref.name, d.what) for d in kd.find(api, [cm("a"), cm("b")], "ns")] == [("a", "missing")]


def test_the_diff_of_a_drifted_secret_is_redacted():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
              "data": {"password": "b2xk"}}
    api = cluster([secret])
    next(iter(api.objects.values()))["data"]["password"] = "bmV3"
    (found,) = kd.find(api, [secret], "ns")
    assert found.what == "data.password"
    item = found.diff()
    assert item["action"] == "update" and item["after"]["data"]["password"] == "<redacted, changed>"
    assert "b2xk" not in str(item) and "bmV3" not in str(item)
