"""Immutable-field refusals on both paths of a component: manifests (the server's dry run refuses)
and the check mode of a chart (predicted from the planned diff)."""

import copy
import types

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.deploy import immutable as dim
from ansible_collections.homelab.observability.plugins.module_utils.deploy.lifecycle import deploy
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApiError, Ref
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter

from tests.fakes.kube_api import FakeApi

REFUSAL = ("StatefulSet.apps \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than "
           "'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
           "'minReadySeconds' are forbidden")
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
STS_REF = Ref("apps/v1", "StatefulSet", "ns", "db")


def sts(storage_class):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "ns"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}}, "serviceName": "db",
                     "template": {"metadata": {"labels": {"app": "db"}}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"storageClassName": storage_class}}]}}


@pytest.fixture
def refusing_api(fake_api):
    """A fake API whose apply refuses a change of the live StatefulSet's claim templates, as the apiserver does."""
    api = fake_api([NAMESPACE, sts("old")])
    plain_apply = api.apply

    def apply(obj, dry_run=False, **kw):
        live = api.objects.get(Ref.of(obj))
        if live and obj["kind"] == "StatefulSet" and live["spec"].get("volumeClaimTemplates") != obj["spec"].get(
                "volumeClaimTemplates"):
            raise KubeApiError(422, "Invalid", REFUSAL, "PATCH", "/apis/apps/v1/namespaces/ns/statefulsets/db")
        return plain_apply(obj, dry_run=dry_run, **kw)

    api.apply = apply
    return api


def sts_change(result):
    [change] = [c for c in result["diff"] if c["kind"] == "StatefulSet"]
    return change


def run(api, check_mode=False, **params):
    params = dict({"name": "db", "namespace": "ns", "manifests": [sts("new")], "wait": False}, **params)
    return deploy(params, api, check_mode=check_mode, waiter=Waiter(api, sleep=lambda s: None))


def test_a_refused_manifest_is_explained_and_nothing_is_written(refusing_api):
    result = run(refusing_api)
    assert result["failed"]
    assert result["msg"].startswith("db: StatefulSet ns/db cannot be changed in place: "
                                    "spec.volumeClaimTemplates[data].spec.storageClassName (old -> new) is immutable")
    assert "set recreate_immutable=true" in result["msg"] and "nothing but namespaces and CRDs" in result["msg"]
    assert refusing_api.deleted == []
    assert refusing_api.objects[STS_REF]["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "old"


def test_recreate_immutable_orphans_and_applies_again(refusing_api):
    result = run(refusing_api, recreate_immutable=True)
    assert "failed" not in result, result.get("msg")
    assert refusing_api.deleted == [(STS_REF, "Orphan")]
    assert refusing_api.objects[STS_REF]["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "new"
    assert result["recreated"] == [str(STS_REF)] and sts_change(result)["action"] == "recreate"


def test_check_mode_says_it_would_recreate_and_deletes_nothing(refusing_api):
    result = run(refusing_api, check_mode=True, recreate_immutable=True)
    assert "failed" not in result and result["changed"]
    assert sts_change(result)["action"] == "recreate" and "Orphan" in sts_change(result)["note"]
    assert refusing_api.deleted == [] and refusing_api.counts["PATCH"] == 0


def plan_with(before, after):
    return types.SimpleNamespace(diff=[{"action": "update", "before": before, "after": after}],
                                 planned_objects=[after])


def check_run(**params):
    return types.SimpleNamespace(name="db", namespace="ns", params=params, result={"plan": {"reasons": []}},
                                 api=FakeApi())


def test_chart_check_mode_predicts_the_refusal():
    run_ = check_run()
    dim.predicted(run_, plan_with(sts("old"), sts("new")))
    [reason] = run_.result["plan"]["reasons"]
    assert reason.startswith("the upgrade would be refused: StatefulSet ns/db cannot be changed in place")
    assert run_.result["immutable"] == [str(STS_REF)]


def test_chart_check_mode_with_the_option_says_it_would_recreate():
    run_ = check_run(recreate_immutable=True)
    dim.predicted(run_, plan_with(sts("old"), sts("new")))
    assert run_.result["plan"]["reasons"][0].startswith("would recreate %s (recreate_immutable=true)" % STS_REF)


def test_chart_check_mode_says_nothing_of_a_mutable_change():
    run_ = check_run()
    bigger = copy.deepcopy(sts("old"))
    bigger["spec"]["replicas"] = 3
    dim.predicted(run_, plan_with(sts("old"), bigger))
    assert run_.result["plan"]["reasons"] == [] and "immutable" not in run_.result
