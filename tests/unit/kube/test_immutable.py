"""Changes the apiserver refuses as immutable: found in its words (and helm's), explained, predicted
in check mode, and recreated (a StatefulSet orphaning its pods and claims)."""

from pathlib import Path

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.kube import immutable as im
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref

from tests.fakes.kube_api import FakeApi

CASES = yaml.safe_load((Path(__file__).parent / "fixtures" / "immutable" / "errors.yml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_find_names_each_refused_object_and_field(case):
    assert [[i.kind, i.name, i.field] for i in im.find(case["text"])] == case["expect"]


def test_a_statefulset_explanation_names_the_field_why_and_both_ways_out():
    [item] = im.find(CASES[0]["text"])
    text = im.explain(item, "monitoring")
    assert text.startswith("StatefulSet monitoring/x cannot be changed in place")
    assert "volumeClaimTemplates" in text and "storageClassName" in text
    assert "Revert the change, or set recreate_immutable=true" in text
    assert "propagation Orphan" in text and "existing claims keep their old storage class" in text


def test_a_deployment_explanation_warns_of_downtime():
    [item] = im.find('Deployment.apps "web" is invalid: spec.selector: Invalid value: {}: field is immutable')
    assert "downtime" in im.explain(item, "ns")


INGRESS_CLASS = ('IngressClass.networking.k8s.io "nginx" is invalid: spec.controller: Invalid value: "b": '
                 'field is immutable')
INGRESS_CLASS_KIND = {("networking.k8s.io/v1", "IngressClass"): ("ingressclasses", False)}


def test_the_api_group_the_apiserver_names_is_kept():
    [item] = im.find(INGRESS_CLASS)
    assert (item.kind, item.group, item.name) == ("IngressClass", "networking.k8s.io", "nginx")
    assert im.find('Service "s" is invalid: spec.clusterIP: Invalid value: "x": field is immutable')[0].group == ""


def test_refs_come_from_the_rendered_object_and_lose_the_namespace_of_a_cluster_scoped_kind():
    [item] = im.find(INGRESS_CLASS)
    rendered = [{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}}]
    [ref] = im.resolve(FakeApi(kinds=INGRESS_CLASS_KIND), [item], rendered, "ns")
    assert ref == Ref("networking.k8s.io/v1", "IngressClass", None, "nginx") and ref.namespace is None


def test_without_a_rendered_object_the_named_group_gives_the_version():
    [item] = im.find('Job.batch "j" is invalid: spec.template: Invalid value: {}: field is immutable')
    other_group = [{"apiVersion": "example.com/v1", "kind": "Job", "metadata": {"name": "j"}}]
    assert im.resolve(FakeApi(), [item], other_group, "ns") == [Ref("batch/v1", "Job", "ns", "j")]


@pytest.mark.parametrize(("rendered", "kinds", "why"), [
    ([], INGRESS_CLASS_KIND, "no rendered object names its apiVersion"),
    ([{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}}], {},
     "no kind IngressClass"),
], ids=["not-rendered", "not-served"])
def test_an_unresolvable_ref_is_named_before_anything_is_deleted(rendered, kinds, why):
    items = im.find(CASES[0]["text"]) + im.find(INGRESS_CLASS)
    with pytest.raises(KubeError, match=r"^cannot recreate IngressClass nginx \(.*%s.*\): nothing was deleted$" % why):
        im.resolve(FakeApi(kinds=kinds), items, rendered, "ns")


def sts(storage_class, replicas=1):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x", "namespace": "ns"},
            "spec": {"replicas": replicas, "serviceName": "x", "selector": {"matchLabels": {"app": "x"}},
                     "template": {"metadata": {"labels": {"app": "x"}}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"storageClassName": storage_class}}]}}


def test_predict_sees_a_storage_class_change_but_not_a_replica_change():
    assert [i.field for i in im.predict(sts("a"), sts("b"))] == ["spec"]
    assert im.predict(sts("a"), sts("a", replicas=3)) == []


def test_predict_service_cluster_ip_only_when_both_set():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"clusterIP": "10.0.0.1"}}
    headless = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"clusterIP": "None"}}
    unset = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}}
    assert [i.field for i in im.predict(svc, headless)] == ["spec.clusterIP"]
    assert im.predict(unset, headless) == []


def test_predict_pvc_allows_a_bigger_request():
    def claim(size, cls="a"):
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
                "spec": {"storageClassName": cls, "resources": {"requests": {"storage": size}}}}
    assert im.predict(claim("1Gi"), claim("2Gi")) == []
    assert [i.field for i in im.predict(claim("1Gi"), claim("1Gi", "b"))] == ["spec"]


def test_recreate_orphans_a_statefulset_and_waits_until_it_is_gone(fake_api):
    api = fake_api([sts("a")])
    im.recreate(api, [Ref("apps/v1", "StatefulSet", "ns", "x")], sleep=lambda s: None)
    assert api.deleted == [(Ref("apps/v1", "StatefulSet", "ns", "x"), "Orphan")]


def test_recreate_deletes_other_kinds_in_the_background(fake_api):
    api = fake_api()
    im.recreate(api, [Ref("apps/v1", "Deployment", "ns", "web")], sleep=lambda s: None)
    assert api.deleted == [(Ref("apps/v1", "Deployment", "ns", "web"), "Background")]


def test_recreate_gives_up_when_a_finalizer_holds_the_object(fake_api):
    api = fake_api([sts("a")])
    api.delete = lambda ref, propagation: None  # the object stays
    ticks = iter(range(0, 1000, 30))
    with pytest.raises(KubeError, match="still exist 60s after their deletion"):
        im.recreate(api, [Ref("apps/v1", "StatefulSet", "ns", "x")], clock=lambda: next(ticks), sleep=lambda s: None)


def test_refine_names_the_changed_claim_template_field_not_the_server_defaults():
    live = sts("nfs-client")
    live["spec"]["podManagementPolicy"] = "OrderedReady"  # a server default the desired object does not set
    live["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] = "Filesystem"
    [item] = im.find(CASES[0]["text"])
    im.refine(item, live, sts("local-path"))
    assert item.changed == ["spec.volumeClaimTemplates[data].spec.storageClassName (nfs-client -> local-path)"]
    assert "spec.volumeClaimTemplates[data].spec.storageClassName (nfs-client -> local-path) is immutable" in \
        im.explain(item, "ns")
