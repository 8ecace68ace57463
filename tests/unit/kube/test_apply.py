"""Planning server-side applies: no write when nothing changed, redaction, ordering, parsing."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube import apply as ap
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}


def cm(data):
    meta = {"name": "dash", "namespace": "monitoring"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def test_create_then_unchanged_without_any_write(fake_api):
    api = fake_api([NS])
    [change] = ap.plan(api, [cm({"a": "1"})])
    assert change.action == "create"
    ap.execute(api, change)
    api.counts.clear()
    [change] = ap.plan(api, [cm({"a": "1"})])
    assert change.action == "none"
    assert api.counts == {"GET": 1}


def test_changed_value_is_an_update_with_a_dry_run_first(fake_api):
    api = fake_api([NS])
    ap.execute(api, ap.plan(api, [cm({"a": "1"})])[0])
    api.counts.clear()
    [change] = ap.plan(api, [cm({"a": "2"})])
    assert change.action == "update"
    assert api.counts["PATCH-dry"] == 1 and api.counts["PATCH"] == 0
    item = change.diff()
    assert item["before"]["data"] == {"a": "1"} and item["after"]["data"] == {"a": "2"}
    assert "managedFields" not in item["after"]["metadata"]


def test_drift_by_someone_else_is_detected(fake_api):
    api = fake_api([NS])
    ap.execute(api, ap.plan(api, [cm({"a": "1"})])[0])
    live = api.objects[next(r for r in api.objects if r.kind == "ConfigMap")]
    live["data"]["a"] = "edited"
    [change] = ap.plan(api, [cm({"a": "1"})])
    assert change.action == "update"


def test_missing_namespace_is_planned_without_dry_run(fake_api):
    api = fake_api()
    [change] = ap.plan(api, [cm({"a": "1"})])
    assert change.action == "create" and "dry-run" in change.note


def test_unknown_kind_is_planned_as_create_in_check_mode(fake_api):
    api = fake_api([NS])
    widget = {"apiVersion": "example.homelab.local/v1", "kind": "Widget", "metadata": {"name": "w"}}
    [change] = ap.plan(api, [widget], "monitoring")
    assert change.action == "create" and "CRD" not in change.note or change.note


def test_namespaced_object_without_namespace_needs_a_default(fake_api):
    with pytest.raises(KubeError, match="namespaced"):
        ap.plan(fake_api([NS]), [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}])


def test_secret_values_are_redacted_and_changes_marked(fake_api):
    before = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "MQ==", "b": "Mg=="}}
    after = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "MQ==", "b": "Mw=="}}
    assert ap.redact(after, before)["data"] == {"a": ap.REDACTED, "b": ap.REDACTED_CHANGED}
    assert after["data"]["b"] == "Mw=="  # the input is untouched


def test_secret_string_data_compares_with_stored_data(fake_api):
    api = fake_api([NS])
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "monitoring"},
              "stringData": {"password": "hunter2"}}
    ap.execute(api, ap.plan(api, [secret])[0])
    live = api.objects[next(r for r in api.objects if r.kind == "Secret")]
    live["data"] = {"password": "aHVudGVyMg=="}
    del live["stringData"]
    api.counts.clear()
    [change] = ap.plan(api, [secret])
    assert change.action == "none" and api.counts == {"GET": 1}
    assert "hunter2" not in str(change.diff())


@pytest.mark.parametrize(
    ("desired", "live", "expect"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": [1, 2]}, {"a": [1, 2, 3]}, False),
        ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}]}, True),
        ({"a": True}, {"a": 1}, False),
        ({"a": None}, {}, True),
        ({"resources": {"requests": {"cpu": "0.1"}}}, {"resources": {"requests": {"cpu": "100m"}}}, True),
        ({"resources": {"limits": {"memory": "1Gi"}}}, {"resources": {"limits": {"memory": "1073741824"}}}, True),
        ({"resources": {"limits": {"memory": "1G"}}}, {"resources": {"limits": {"memory": "1Gi"}}}, False),
        ({"data": {"cpu": "0.1"}}, {"data": {"cpu": "100m"}}, False),
        ({"requests": {"storage": "10Gi"}}, {"requests": {"storage": "10Gi"}}, True),
    ],
)
def test_contains(desired, live, expect):
    assert ap.contains(desired, live) is expect


def test_install_order_puts_crds_and_namespaces_first(fake_api):
    objs = [{"kind": "Widget"}, {"kind": "Deployment"}, {"kind": "CustomResourceDefinition"}, {"kind": "Namespace"}]
    ordered = [o["kind"] for o in ap.install_order(objs)]
    assert ordered == ["Namespace", "CustomResourceDefinition", "Deployment", "Widget"]


def test_parse_documents_expands_lists_and_rejects_incomplete_objects(fake_api):
    docs = [None, {"kind": "List", "items": [cm({})]}]
    assert len(ap.parse_documents(docs)) == 1
    with pytest.raises(KubeError, match="metadata.name"):
        ap.parse_documents([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}])
    with pytest.raises(KubeError, match="mapping"):
        ap.parse_documents(["text"])


def test_hash_ignores_its_own_annotation(fake_api):
    obj = cm({"a": "1"})
    assert ap.desired_hash(ap.with_hash(obj)) == ap.desired_hash(obj)
