"""Golden tests of the wave-1 roles: exportarr, uptime_kuma, vpa, goldilocks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import manifests_by_kind

ARR = {"sonarr": "8989", "radarr": "7878", "prowlarr": "9696", "bazarr": "6767"}


@pytest.fixture(scope="module")
def wave1(render):
    return render(["exportarr", "uptime_kuma", "vpa", "goldilocks"])


# ---- exportarr ----

def test_exportarr_one_deployment_service_servicemonitor_per_target(wave1):
    (comp,) = wave1["exportarr"]
    assert comp["wave"] == 1
    assert comp["namespace"] == "arr"
    objects = manifests_by_kind(comp)
    assert len(objects) == 3 * len(ARR)
    for app in ARR:
        for kind in ("Deployment", "Service", "ServiceMonitor"):
            assert (kind, "exportarr-%s" % app) in objects


def test_exportarr_deployment_reads_the_api_key_from_a_secret_only(wave1):
    objects = manifests_by_kind(wave1["exportarr"][0])
    for app, port in ARR.items():
        deploy = objects[("Deployment", "exportarr-%s" % app)]
        (container,) = deploy["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "ghcr.io/onedr0p/exportarr:v2.1.0"
        assert container["args"] == [app]
        env = {e["name"]: e for e in container["env"]}
        assert env["URL"]["value"] == "http://%s.arr.svc.cluster.local:%s" % (app, port)
        assert env["APIKEY"] == {"name": "APIKEY", "valueFrom": {"secretKeyRef": {"name": "%s-api-key" % app,
                                                                                   "key": "api-key"}}}
        assert all("value" not in e for e in container["env"] if e["name"].startswith("APIKEY"))


def test_exportarr_servicemonitor_scrapes_the_service(wave1):
    objects = manifests_by_kind(wave1["exportarr"][0])
    for app in ARR:
        sm = objects[("ServiceMonitor", "exportarr-%s" % app)]
        svc = objects[("Service", "exportarr-%s" % app)]
        assert sm["apiVersion"] == "monitoring.coreos.com/v1"
        assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
        assert sm["spec"]["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"] == "metrics"
        assert sm["spec"]["namespaceSelector"] == {"matchNames": ["arr"]}


def test_exportarr_targets_can_be_disabled_and_reconfigured(render):
    targets = [
        {"name": "sonarr", "enabled": False, "url": "http://x:1", "api_key_secret": "s"},
        {"name": "radarr", "url": "https://radarr.media.lan", "api_key_secret": "radarr", "api_key_secret_key": "key"},
    ]
    (comp,) = render(["exportarr"], exportarr_targets=targets)["exportarr"]
    objects = manifests_by_kind(comp)
    assert {name for _, name in objects} == {"exportarr-radarr"}
    env = {e["name"]: e for e in objects[("Deployment", "exportarr-radarr")]["spec"]["template"]["spec"][
        "containers"][0]["env"]}
    assert env["URL"]["value"] == "https://radarr.media.lan"
    assert env["APIKEY"]["valueFrom"]["secretKeyRef"] == {"name": "radarr", "key": "key"}


def test_exportarr_rejects_a_target_without_a_secret(render):
    with pytest.raises(AssertionError, match="api_key_secret"):
        render(["exportarr"], exportarr_targets=[{"name": "sonarr", "url": "http://sonarr:8989"}])


# ---- uptime_kuma ----

def test_uptime_kuma_deployment_pvc_service(wave1):
    (comp,) = wave1["uptime_kuma"]
    assert comp["wave"] == 1
    objects = manifests_by_kind(comp)
    pvc = objects[("PersistentVolumeClaim", "uptime-kuma")]
    assert pvc["spec"]["storageClassName"] == "nfs-client"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    deploy = objects[("Deployment", "uptime-kuma")]
    spec = deploy["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == "louislam/uptime-kuma:2.2.1"
    assert {"name": "data", "mountPath": "/app/data"} in container["volumeMounts"]
    volume = {"name": "data", "persistentVolumeClaim": {"claimName": "uptime-kuma"}}
    assert spec["template"]["spec"]["volumes"] == [volume]
    svc = objects[("Service", "uptime-kuma")]
    assert svc["spec"]["ports"][0]["port"] == 3001
    assert svc["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()


# ---- vpa ----

def test_vpa_recommender_only(wave1):
    (comp,) = wave1["vpa"]
    assert comp["namespace"] == "kube-system"
    assert comp["chart"] == {"ref": "vpa", "repo_url": "https://charts.fairwinds.com/stable", "version": "5.0.0"}
    values = comp["values"]
    assert values["recommender"]["enabled"] is True
    assert values["updater"]["enabled"] is False
    assert values["admissionController"]["enabled"] is False


def test_vpa_recommender_metrics_scraped(wave1):
    annotations = wave1["vpa"][0]["values"]["recommender"]["podAnnotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": "8942",
                           "prometheus.io/path": "/metrics", "prometheus.io/job": "vpa-recommender"}


def test_vpa_recommendations_exported_by_kube_state_metrics(render):
    values = render(["kube_prometheus_stack"])["kube_prometheus_stack"][-1]["values"]
    ksm = values["kube-state-metrics"]
    assert ksm["customResourceState"]["enabled"] is True
    (resource,) = ksm["customResourceState"]["config"]["spec"]["resources"]
    assert resource["groupVersionKind"] == {"group": "autoscaling.k8s.io", "version": "v1",
                                            "kind": "VerticalPodAutoscaler"}
    assert resource["metricNamePrefix"] == "kube_customresource_vpa"
    names = [m["name"] for m in resource["metrics"]]
    assert len(names) == len(set(names)) == 8
    target_cpu = resource["metrics"][names.index("recommendation_target_cpu_cores")]["each"]["gauge"]
    assert target_cpu["path"] == ["status", "recommendation", "containerRecommendations"]
    assert target_cpu["valueFrom"] == ["target", "cpu"]
    rule = ksm["rbac"]["extraRules"][0]
    assert rule["resources"] == ["verticalpodautoscalers"] and set(rule["verbs"]) == {"list", "watch"}


# ---- goldilocks ----

def test_goldilocks_controller_and_dashboard(wave1):
    (comp,) = wave1["goldilocks"]
    values = comp["values"]
    assert comp["wave"] == 2, "after the VPA CRD (wave 1)"
    assert values["controller"]["enabled"] is True
    assert values["dashboard"]["enabled"] is True
    assert values["dashboard"]["ingress"]["enabled"] is False
    assert values["vpa"]["enabled"] is False


def test_goldilocks_every_namespace_but_the_excluded(wave1):
    flags = wave1["goldilocks"][0]["values"]["controller"]["flags"]
    assert flags["on-by-default"] == "true"
    assert flags["exclude-namespaces"] == "kube-node-lease,kube-public"


def test_nothing_can_apply_a_recommendation(wave1):
    # updateMode Off is Goldilocks' default; with no updater and no admission controller installed,
    # no VPA object could mutate a pod whatever its mode.
    text = json.dumps(wave1["goldilocks"][0]["values"])
    assert "update-mode" not in text and "Auto" not in text
    assert wave1["vpa"][0]["values"]["updater"]["enabled"] is False


# ---- capacity_dashboards ----

def test_dashboards_shipped_as_sidecar_configmaps(render):
    (comp,) = render(["capacity_dashboards"])["capacity_dashboards"]
    assert comp["wave"] == 1
    objects = manifests_by_kind(comp)
    assert set(objects) == {("ConfigMap", "dashboard-cluster-capacity-overview"),
                            ("ConfigMap", "dashboard-namespace-resource-breakdown")}
    titles = {}
    for (_, name), cm in objects.items():
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (key, text) = next(iter(cm["data"].items()))
        assert key == name.removeprefix("dashboard-") + ".json"
        model = json.loads(text)
        titles[model["title"]] = model
    assert set(titles) == {"Cluster Capacity Overview", "Namespace Resource Breakdown"}


def test_cluster_capacity_overview_panels(render):
    (comp,) = render(["capacity_dashboards"])["capacity_dashboards"]
    model = json.loads(manifests_by_kind(comp)[("ConfigMap", "dashboard-cluster-capacity-overview")]["data"][
        "cluster-capacity-overview.json"])
    kinds = [p["type"] for p in model["panels"] if p["type"] != "row"]
    assert kinds.count("timeseries") == 3 and kinds.count("gauge") == 4 and kinds.count("piechart") == 2
    legends = {t["legendFormat"] for p in model["panels"] if p["type"] == "timeseries" for t in p["targets"]}
    assert {"requested", "allocatable", "used"} <= legends
    assert any("Running" in p["title"] or "pods" in p["title"].lower() for p in model["panels"] if p["type"] == "stat")


def test_namespace_breakdown_panels(render):
    (comp,) = render(["capacity_dashboards"])["capacity_dashboards"]
    model = json.loads(manifests_by_kind(comp)[("ConfigMap", "dashboard-namespace-resource-breakdown")]["data"][
        "namespace-resource-breakdown.json"])
    tables = [p for p in model["panels"] if p["type"] == "table"]
    assert len(tables) == 2
    for panel in tables:
        renamed = panel["transformations"][1]["options"]["renameByName"]
        assert set(renamed.values()) == {"Requests", "Limits", "Usage", "Efficiency %"}
    stacked = [p for p in model["panels"] if p["type"] == "timeseries"]
    assert stacked and all(p["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal" for p in stacked)
    assert [v["name"] for v in model["templating"]["list"]] == ["datasource", "namespace"]


def test_committed_dashboards_match_the_generator():
    pytest.importorskip("grafana_foundation_sdk")
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run([sys.executable, str(root / "tools/dashboards/generate.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
