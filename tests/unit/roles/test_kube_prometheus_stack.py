"""Golden tests: the kube-prometheus-stack values carry every seed setting, by value."""

import re

import pytest

from .conftest import component


@pytest.fixture(scope="module")
def kps(render):
    return component(render(["kube_prometheus_stack"])["kube_prometheus_stack"], "kube-prometheus-stack")


@pytest.fixture(scope="module")
def values(kps):
    return kps["values"]


def test_release_source_and_wave(kps):
    assert kps["wave"] == -1
    assert kps["namespace"] == "monitoring"
    assert kps["chart"] == {
        "ref": "kube-prometheus-stack",
        "repo_url": "https://prometheus-community.github.io/helm-charts",
        "version": "88.5.3",
    }
    assert kps["wait"] is True


def test_prometheus_retention_and_storage(values):
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "15d"
    pvc = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert pvc["resources"]["requests"]["storage"] == "20Gi"
    assert pvc["storageClassName"] == "local-path"
    assert pvc["accessModes"] == ["ReadWriteOnce"]


def test_monitors_and_rules_selected_outside_the_release(values):
    spec = values["prometheus"]["prometheusSpec"]
    for key in ("serviceMonitor", "podMonitor", "probe", "rule", "scrapeConfig"):
        assert spec["%sSelectorNilUsesHelmValues" % key] is False


def test_annotated_pods_are_scraped(values):
    jobs = values["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"]
    assert [j["job_name"] for j in jobs] == ["kubernetes-pods"]
    relabel = jobs[0]["relabel_configs"]
    keep = relabel[0]
    assert keep == {
        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        "action": "keep",
        "regex": "true",
    }
    targets = {r.get("target_label") for r in relabel}
    assert {"__address__", "__metrics_path__", "__scheme__", "job", "namespace", "pod", "node"} <= targets


def test_annotated_pod_scraping_can_be_turned_off(render):
    kps = render(["kube_prometheus_stack"], kube_prometheus_stack_scrape_annotated_pods=False)
    values = component(kps["kube_prometheus_stack"], "kube-prometheus-stack")["values"]
    assert values["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"] == []


def test_alertmanager_node_exporter_and_kube_state_metrics_on(values):
    assert values["alertmanager"]["enabled"] is True
    assert values["nodeExporter"]["enabled"] is True
    assert values["kubeStateMetrics"]["enabled"] is True


def test_grafana_persistence_on_nfs_client(values):
    persistence = values["grafana"]["persistence"]
    assert persistence["enabled"] is True
    assert persistence["storageClassName"] == "nfs-client"


def test_grafana_admin_from_existing_secret_and_no_password_anywhere(values):
    admin = values["grafana"]["admin"]
    assert admin == {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}
    assert "adminPassword" not in values["grafana"]
    assert "password" not in str(values["grafana"]).lower().replace("passwordkey", "").replace("admin-password", "")


def test_datasources_prometheus_default_and_loki(values):
    sidecar = values["grafana"]["sidecar"]["datasources"]
    assert sidecar["enabled"] is True
    assert sidecar["defaultDatasourceEnabled"] is True
    assert sidecar["isDefaultDatasource"] is True
    (loki,) = values["grafana"]["additionalDataSources"]
    assert loki["type"] == "loki"
    assert loki["url"] == "http://loki.monitoring.svc.cluster.local:3100"
    assert loki["isDefault"] is False


def test_dashboard_sidecar_on_with_the_label(values):
    dashboards = values["grafana"]["sidecar"]["dashboards"]
    assert dashboards["enabled"] is True
    assert dashboards["label"] == "grafana_dashboard"
    assert dashboards["labelValue"] == "1"
    assert dashboards["searchNamespace"] == "ALL"


def test_ingresses_off_without_an_ingress_class(values):
    assert values["prometheus"]["ingress"] == {"enabled": False}
    assert values["alertmanager"]["ingress"] == {"enabled": False}
    assert values["grafana"]["ingress"] == {"enabled": False}


def test_ingress_hosts_with_an_ingress_class(render):
    values = render(["kube_prometheus_stack"], kube_prometheus_stack_ingress_class_name="traefik")[
        "kube_prometheus_stack"][-1]["values"]
    assert values["prometheus"]["ingress"]["hosts"] == ["prometheus.homelab.local"]
    assert values["alertmanager"]["ingress"]["hosts"] == ["alertmanager.homelab.local"]
    assert values["grafana"]["ingress"]["hosts"] == ["grafana.homelab.local"]
    for part in ("prometheus", "alertmanager", "grafana"):
        assert values[part]["ingress"]["enabled"] is True
        assert values[part]["ingress"]["ingressClassName"] == "traefik"


def test_our_alert_rules_are_shipped(values):
    groups = values["additionalPrometheusRulesMap"]["homelab-observability"]["groups"]
    rules = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert set(rules) == {
        "HomelabTargetDown",
        "HomelabLokiDown",
        "HomelabAlloyDown",
        "HomelabAlloyDaemonSetIncomplete",
        "HomelabMonitoringPVCFillingUp",
        "HomelabMonitoringPVCFillsSoon",
    }
    assert rules["HomelabTargetDown"]["expr"] == "up == 0"
    assert rules["HomelabLokiDown"]["expr"] == 'absent(up{job="loki"} == 1)'
    assert rules["HomelabAlloyDown"]["expr"] == 'absent(up{job="alloy"} == 1)'
    assert "> 0.9" in rules["HomelabMonitoringPVCFillingUp"]["expr"]
    # Prometheus templates survive Ansible's templating untouched.
    assert "{{ $labels.instance }}" in rules["HomelabTargetDown"]["annotations"]["description"]


def test_crds_in_their_own_component_one_wave_earlier(render, values):
    comps = render(["kube_prometheus_stack"])["kube_prometheus_stack"]
    assert [c["name"] for c in comps] == ["prometheus-operator-crds", "kube-prometheus-stack"]
    crds = comps[0]
    assert crds["wave"] == -2
    assert crds["chart"] == {"ref": "prometheus-operator-crds", "version": "31.0.1",
                             "repo_url": "https://prometheus-community.github.io/helm-charts"}
    assert values["crds"]["enabled"] is False


def test_crds_inside_the_stack_on_request(render):
    comps = render(["kube_prometheus_stack"], kube_prometheus_stack_crds_separate=False)["kube_prometheus_stack"]
    assert [c["name"] for c in comps] == ["kube-prometheus-stack"]
    assert comps[0]["values"]["crds"]["enabled"] is True


def test_external_secret_component_one_wave_before(render):
    comps = render(["kube_prometheus_stack"], kube_prometheus_stack_grafana_external_secret_enabled=True)[
        "kube_prometheus_stack"]
    assert [c["name"] for c in comps] == ["prometheus-operator-crds", "kube-prometheus-stack-grafana-admin",
                                          "kube-prometheus-stack"]
    secret = comps[1]
    assert secret["wave"] == -2
    (es,) = secret["manifests"]
    assert es["kind"] == "ExternalSecret"
    assert es["metadata"] == {
        "name": "grafana-admin",
        "namespace": "monitoring",
        "labels": {"app.kubernetes.io/managed-by": "homelab.observability",
                   "app.kubernetes.io/part-of": "kube-prometheus-stack"},
    }
    assert es["spec"]["target"]["name"] == "grafana-admin"
    assert es["spec"]["secretStoreRef"] == {"name": "vault", "kind": "ClusterSecretStore"}
    assert [d["secretKey"] for d in es["spec"]["data"]] == ["admin-user", "admin-password"]


def test_values_overrides_merge_recursively(render):
    values = render(["kube_prometheus_stack"],
                    kube_prometheus_stack_values_overrides={"prometheus": {"prometheusSpec": {"replicas": 2}}})[
        "kube_prometheus_stack"][-1]["values"]
    assert values["prometheus"]["prometheusSpec"]["replicas"] == 2
    assert values["prometheus"]["prometheusSpec"]["retention"] == "15d"


def test_storage_class_is_configurable(render):
    values = render(["kube_prometheus_stack"], kube_prometheus_stack_prometheus_storage_class="nfs-client")[
        "kube_prometheus_stack"][-1]["values"]
    pvc = values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert pvc["storageClassName"] == "nfs-client"


def test_vpa_recommendation_recording_rules(values):
    groups = values["additionalPrometheusRulesMap"]["homelab-observability"]["groups"]
    records = [r for g in groups for r in g["rules"] if "record" in r]
    assert {r["record"] for r in records} == {"vpa_status_recommendation"}
    labels = {(r["labels"]["bound"], r["labels"]["resource"], r["labels"]["unit"]) for r in records}
    assert labels == {(b, r, u) for b in ("target", "lower_bound", "upper_bound", "uncapped_target")
                      for r, u in (("cpu", "core"), ("memory", "byte"))}
    target_cpu = next(r for r in records if r["labels"] == {"bound": "target", "resource": "cpu", "unit": "core"})
    assert target_cpu["expr"] == "kube_customresource_vpa_recommendation_target_cpu_cores"


def test_the_pvc_alerts_cover_the_prometheus_and_the_loki_volumes(render):
    rendered = render(["kube_prometheus_stack", "loki"])
    kps = component(rendered["kube_prometheus_stack"], "kube-prometheus-stack")
    (loki,) = [c for c in rendered["loki"] if "chart" in c]
    groups = kps["values"]["additionalPrometheusRulesMap"]["homelab-observability"]["groups"]
    rules = {r["alert"]: r["expr"] for g in groups for r in g["rules"] if "PVC" in r.get("alert", "")}
    assert set(rules) == {"HomelabMonitoringPVCFillingUp", "HomelabMonitoringPVCFillsSoon"}
    for namespace in {kps["namespace"], loki["namespace"]}:
        for expr in rules.values():
            # every selector of the rule is the namespace both volumes live in, no PVC name that could drift
            assert set(re.findall(r"\{[^}]*\}", expr)) == {'{namespace="%s"}' % namespace}, expr
    assert rules["HomelabMonitoringPVCFillsSoon"].startswith(
        'predict_linear(kubelet_volume_stats_available_bytes{namespace="monitoring"}[6h], 3 * 86400) < 0')


def test_the_full_volume_threshold_sits_above_prometheus_own_share(render):
    # 16GB (GiB) of blocks on 20Gi is 0.8 of the volume, where Prometheus stays once retention is full.
    values = component(render(["kube_prometheus_stack"])["kube_prometheus_stack"], "kube-prometheus-stack")["values"]
    spec = values["prometheus"]["prometheusSpec"]
    share = int(spec["retentionSize"][:-2]) * 2**30 / (int(spec["storageSpec"]["volumeClaimTemplate"]["spec"][
        "resources"]["requests"]["storage"][:-2]) * 2**30)
    groups = values["additionalPrometheusRulesMap"]["homelab-observability"]["groups"]
    expr = next(r["expr"] for g in groups for r in g["rules"] if r.get("alert") == "HomelabMonitoringPVCFillingUp")
    assert float(expr.rsplit(">", 1)[1]) > share == 0.8
