"""A manifests component: live objects read by one LIST per kind, objects it no longer renders
pruned (only those carrying its labels), check mode and prune=false."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.deploy.lifecycle import deploy
from ansible_collections.homelab.observability.plugins.module_utils.kube import inventory as inv
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter

SM = ("monitoring.coreos.com/v1", "ServiceMonitor")


def target(name):
    app = "exportarr-" + name
    labels = {"app.kubernetes.io/instance": app, "app.kubernetes.io/managed-by": "homelab.observability"}
    meta = {"name": app, "namespace": "arr", "labels": labels}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": dict(meta),
         "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "e", "image": "exportarr:2"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": dict(meta), "spec": {"ports": [{"port": 9707}]}},
        {"apiVersion": SM[0], "kind": SM[1], "metadata": dict(meta), "spec": {"endpoints": [{"port": "metrics"}]}},
    ]


@pytest.fixture
def api(fake_api):
    cluster = fake_api([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "arr"}}],
                       kinds={SM: ("servicemonitors", True)})
    return cluster


def run(api, manifests, check_mode=False, **params):
    params = dict({"name": "exportarr", "namespace": "arr", "manifests": manifests, "wait": False}, **params)
    waiter = Waiter(api, clock=lambda: 0.0, sleep=lambda s: None)
    return deploy(params, api, check_mode=check_mode, waiter=waiter)


def names(api, kind=None):
    return sorted((r.kind, r.name) for r in api.objects if r.kind not in ("Namespace", "ConfigMap")
                  and kind in (None, r.kind))


def test_a_removed_target_is_pruned_and_a_foreign_object_is_kept(api):
    foreign = {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "exportarr-radarr-by-hand", "namespace": "arr",
        "labels": {inv.COMPONENT_LABEL: "exportarr", inv.NAMESPACE_LABEL: "arr"}}}  # no managed-by: not ours
    api.put(foreign)
    first = run(api, target("sonarr") + target("radarr"))
    assert not first.get("failed"), first.get("msg")
    assert first["pruned"] == []
    result = run(api, target("sonarr"))
    assert result["changed"]
    assert result["pruned"] == [{"kind": k, "namespace": "arr", "name": "exportarr-radarr"}
                                for k in ("ServiceMonitor", "Deployment", "Service")]
    assert [d["action"] for d in result["diff"]] == ["delete"] * 3
    assert names(api) == [("Deployment", "exportarr-sonarr"), ("Service", "exportarr-radarr-by-hand"),
                          ("Service", "exportarr-sonarr"), ("ServiceMonitor", "exportarr-sonarr")]


def test_an_unchanged_rerun_writes_nothing_and_lists_once_per_kind(api):
    run(api, target("sonarr") + target("radarr"))
    api.counts.clear()
    api.list_calls.clear()
    again = run(api, target("sonarr") + target("radarr"))
    assert not again["changed"] and again["pruned"] == []
    assert api.writes() == 0 and api.counts["PATCH-dry"] == 0
    # Deployment, Service, ServiceMonitor (the health gate lists more: pods, endpoints); the GETs: the created
    # namespace, the kinds record, and the health gate's one per object
    ours = [c[1] for c in api.list_calls if c[3] == inv.selector("exportarr", "arr")]
    assert sorted(ours) == ["Deployment", "Service", "ServiceMonitor"] and api.counts["GET"] == 2 + 6


def test_a_deleted_and_an_edited_object_are_applied_again(api):
    run(api, target("sonarr"))
    deployment = next(r for r in api.objects if r.kind == "Deployment")
    api.objects[deployment]["spec"]["replicas"] = 5
    del api.objects[next(r for r in api.objects if r.kind == "Service")]
    result = run(api, target("sonarr"))
    assert sorted((d["kind"], d["action"]) for d in result["diff"]) == [("Deployment", "update"),
                                                                        ("Service", "create")]
    assert api.objects[deployment]["spec"]["replicas"] == 1 and ("Service", "exportarr-sonarr") in names(api)


def test_a_kind_no_longer_rendered_at_all_is_pruned_through_the_record(api):
    run(api, target("sonarr"))
    result = run(api, [o for o in target("sonarr") if o["kind"] != "ServiceMonitor"])
    assert result["pruned"] == [{"kind": "ServiceMonitor", "namespace": "arr", "name": "exportarr-sonarr"}]
    assert names(api, "ServiceMonitor") == []
    assert inv.recorded_kinds(api, "exportarr", "arr") == {("apps/v1", "Deployment", "arr"), ("v1", "Service", "arr")}


def test_check_mode_reports_what_would_be_pruned_and_writes_nothing(api):
    run(api, target("sonarr") + target("radarr"))
    api.counts.clear()
    planned = run(api, target("sonarr"), check_mode=True)
    assert planned["changed"] and len(planned["pruned"]) == 3
    assert {d["action"] for d in planned["diff"]} == {"delete"}
    assert api.writes() == 0 and len(names(api)) == 6


def test_prune_false_keeps_the_removed_target(api):
    run(api, target("sonarr") + target("radarr"))
    result = run(api, target("sonarr"), prune=False)
    assert not result["changed"] and "pruned" not in result and len(names(api)) == 6


def test_an_object_whose_managed_by_label_is_the_users_own_is_never_pruned(api):
    own = target("lidarr")
    for obj in own:
        obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "someone-else"
    run(api, target("sonarr") + own)
    assert run(api, target("sonarr"))["pruned"] == []
    assert len(names(api)) == 6
