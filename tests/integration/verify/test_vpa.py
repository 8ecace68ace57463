"""VPA/Goldilocks checks against the lab's real apiserver: real Deployments, StatefulSets and
VerticalPodAutoscaler objects (the CRD is installed here in a minimal form when the lab has none;
Goldilocks and the recommender are not running, so the test writes what they would write)."""

import binascii
import json
import os
import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.probes import kubeapi
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckRunner
from ansible_collections.homelab.observability.plugins.module_utils.verify.vpa import (
    VPA_PATH,
    WORKLOAD_PATHS,
    check_coverage,
    check_excluded,
    check_recommendations,
)

pytestmark = pytest.mark.lab

EXCLUDED = ["kube-node-lease", "kube-public"]
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    # *.k8s.io groups need the approval annotation; the upstream VPA CRD carries this one
    "metadata": {"name": "verticalpodautoscalers.autoscaling.k8s.io",
                 "annotations": {"api-approved.kubernetes.io": "https://github.com/kubernetes/kubernetes/pull/63797"}},
    "spec": {"group": "autoscaling.k8s.io", "scope": "Namespaced",
             "names": {"plural": "verticalpodautoscalers", "singular": "verticalpodautoscaler",
                       "kind": "VerticalPodAutoscaler", "shortNames": ["vpa"]},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]},
}


def ok(resp):
    assert resp.ok, (resp.status, resp.text)
    return resp.json()


@pytest.fixture(scope="module")
def vpa_api(lab):
    from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi  # noqa: PLC0415
    from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import (  # noqa: PLC0415
        ApiserverTransport,
    )

    api = ApiserverTransport(KubeApi(lab.api_client()), timeout=10)
    created = False
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    if api.request("GET", crd_path + "/" + CRD["metadata"]["name"]).status == 404:
        ok(api.request("POST", crd_path, body=CRD))
        created = True
        deadline = time.monotonic() + 30
        while api.request("GET", VPA_PATH).status != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
    yield api
    if created:
        api.request("DELETE", crd_path + "/" + CRD["metadata"]["name"])


@pytest.fixture
def namespace(vpa_api):
    name = "verify-vpa-" + binascii.hexlify(os.urandom(3)).decode()
    ok(vpa_api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}}))
    yield name
    vpa_api.request("DELETE", "/api/v1/namespaces/" + name)


def workload(api, ns, kind, name):
    labels = {"app": name}
    spec = {"replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": name, "image": "registry.invalid/" + name + ":1"}]}}}
    if kind == "StatefulSet":
        spec["serviceName"] = name
    plural = kind.lower() + "s"
    ok(api.request("POST", "/apis/apps/v1/namespaces/%s/%s" % (ns, plural),
                   body={"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}))


def vpa(api, ns, kind, name, *, mode="Off", vpa_name=None):
    body = {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": vpa_name or "goldilocks-" + name},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name}}}
    if mode:
        body["spec"]["updatePolicy"] = {"updateMode": mode}
    return ok(api.request("POST", "/apis/autoscaling.k8s.io/v1/namespaces/%s/verticalpodautoscalers" % ns, body=body))


def observed(api, namespaces):
    """What run_vpa reads, limited to the namespaces of this test (other tests share the lab)."""
    vpas = [v for v in kubeapi.list_items(api, VPA_PATH) if v["metadata"]["namespace"] in namespaces]
    workloads = [(kind, o) for kind, path in WORKLOAD_PATHS for o in kubeapi.list_items(api, path)
                 if o["metadata"]["namespace"] in namespaces]
    return workloads, vpas


def run(name, func, *args):
    runner = CheckRunner()
    runner.run(name, func, *args)
    return runner.results[0]["result"], runner.results[0]["reason"]


def test_coverage_needs_a_vpa_with_update_mode_off_for_every_workload(vpa_api, namespace):
    workload(vpa_api, namespace, "Deployment", "web")
    workload(vpa_api, namespace, "StatefulSet", "db")
    vpa(vpa_api, namespace, "Deployment", "web")
    result, reason = run("vpa.coverage", check_coverage, *observed(vpa_api, [namespace]), EXCLUDED)
    assert (result, reason) == ("failed", "1 workloads have no VPA: StatefulSet %s/db" % namespace)

    vpa(vpa_api, namespace, "StatefulSet", "db", mode="Auto")
    result, reason = run("vpa.coverage", check_coverage, *observed(vpa_api, [namespace]), EXCLUDED)
    assert (result, reason) == ("failed", "1 VPAs do not have updateMode Off: %s/goldilocks-db (updateMode Auto)"
                                % namespace)

    vpa_api.request("PATCH", "/apis/autoscaling.k8s.io/v1/namespaces/%s/verticalpodautoscalers/goldilocks-db"
                    % namespace, body='{"spec": {"updatePolicy": {"updateMode": "Off"}}}',
                    headers={"Content-Type": "application/merge-patch+json"})
    result, reason = run("vpa.coverage", check_coverage, *observed(vpa_api, [namespace]), EXCLUDED)
    assert (result, reason) == ("passed", "2 workloads covered by VPAs with updateMode Off")


def test_a_vpa_in_an_excluded_namespace_fails(vpa_api, namespace):
    name = "verify-" + namespace
    vpa(vpa_api, "kube-public", "Deployment", "anything", vpa_name=name)
    try:
        vpas = observed(vpa_api, [namespace, "kube-public"])[1]
        result, reason = run("vpa.excluded", check_excluded, vpas, EXCLUDED)
        assert result == "failed"
        assert reason.startswith("1 VPA(s) exist in excluded namespaces (kube-node-lease, kube-public): ")
        assert "kube-public/%s" % name in reason
    finally:
        vpa_api.request("DELETE", "/apis/autoscaling.k8s.io/v1/namespaces/kube-public/verticalpodautoscalers/" + name)
    vpas = observed(vpa_api, [namespace, "kube-public"])[1]
    assert run("vpa.excluded", check_excluded, vpas, EXCLUDED)[0] == "passed"


def test_recommendations_once_the_recommender_had_time(vpa_api, namespace):
    vpa(vpa_api, namespace, "Deployment", "web")
    vpa(vpa_api, namespace, "Deployment", "api")
    vpas = observed(vpa_api, [namespace])[1]
    result, reason = run("vpa.recommendations", check_recommendations, vpas, EXCLUDED, 300, time.time())
    assert result == "skipped" and "no VPA is older than 300s" in reason

    status = {"status": {"recommendation": {"containerRecommendations": [
        {"containerName": "web", "target": {"cpu": "25m", "memory": "64Mi"}}]}}}
    ok(vpa_api.request("PATCH", "/apis/autoscaling.k8s.io/v1/namespaces/%s/verticalpodautoscalers/goldilocks-web/status"
                       % namespace, body=json.dumps(status), headers={"Content-Type": "application/merge-patch+json"}))
    vpas = observed(vpa_api, [namespace])[1]
    result, reason = run("vpa.recommendations", check_recommendations, vpas, EXCLUDED, 0, time.time() + 1)
    assert result == "failed"
    assert reason.startswith("1 of 2 VPAs older than 0s have no recommendation: %s/goldilocks-api" % namespace)
