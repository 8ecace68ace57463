"""The seed's promises, checked on the objects the real pinned charts render from the roles' default
values (not on the values): a role default or a chart upgrade that breaks a promise turns a test red."""

import subprocess
from urllib.parse import urlparse

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.verify.loki_retention import check_retention
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed
from labctl.paths import Binaries
from roles.alertmanager_receivers import EVERY_KIND, RECEIVERS, SECRET, readme_example

from .conftest import env_of, load_yaml, of_kind, only


@pytest.fixture(scope="module")
def stack(rendered):
    return rendered()


@pytest.fixture(scope="module")
def kps(stack):
    return stack["kube-prometheus-stack"]


def _service_urls_resolve(url, stack, namespace_default):
    """True when ``url``'s host:port is a Service port that one of the stack's charts renders."""
    parsed = urlparse(url)
    parts = parsed.hostname.split(".")
    name, namespace = parts[0], parts[1] if len(parts) > 1 else namespace_default
    for objects in stack.values():
        for svc in of_kind(objects, "Service"):
            if svc["metadata"]["name"] == name and svc["metadata"].get("namespace", namespace) == namespace:
                return parsed.port in [p["port"] for p in svc["spec"]["ports"]]
    return False


# --- CRDs -------------------------------------------------------------------------------------
def test_the_crd_chart_parses_as_helm_reads_it(stack):
    crds = of_kind(stack["prometheus-operator-crds"], "CustomResourceDefinition")
    assert len(crds) == 10
    # `- =` in an enum: PyYAML's YAML 1.1 "value" tag, a plain string to helm's go-yaml
    text = repr([c["spec"] for c in crds])
    assert "'='" in text


def test_the_stack_chart_installs_no_crds_while_they_have_their_own_release(kps):
    assert of_kind(kps, "CustomResourceDefinition") == []


@pytest.mark.parametrize("value", [False, "false"])
def test_crds_not_separate_leaves_the_stack_charts_own_crds_on(rendered, value):
    stack = rendered(["kube_prometheus_stack"], kube_prometheus_stack_crds_separate=value)
    assert "prometheus-operator-crds" not in stack
    names = {c["metadata"]["name"] for c in of_kind(stack["kube-prometheus-stack"], "CustomResourceDefinition")}
    assert {"prometheuses.monitoring.coreos.com", "alertmanagers.monitoring.coreos.com"} <= names


# --- Prometheus -------------------------------------------------------------------------------
def test_prometheus_keeps_15_days_on_a_20gi_local_path_volume(kps):
    spec = only(kps, "Prometheus")["spec"]
    assert spec["retention"] == "15d"
    assert spec["retentionSize"] == "16GB", "below the 20Gi volume, so the disk cannot fill first"
    claim = spec["storage"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "local-path"
    assert claim["resources"]["requests"]["storage"] == "20Gi"


def test_prometheus_selects_every_monitor_and_rule_in_every_namespace(kps):
    spec = only(kps, "Prometheus")["spec"]
    for kind in ("serviceMonitor", "podMonitor", "probe", "rule"):
        assert spec["%sSelector" % kind] == {}, kind
        assert spec["%sNamespaceSelector" % kind] == {}, kind


def test_prometheus_scrapes_pods_by_their_annotations(kps):
    ref = only(kps, "Prometheus")["spec"]["additionalScrapeConfigs"]
    secret = only(kps, "Secret", ref["name"])
    jobs = load_yaml(_secret_text(secret, ref["key"]))
    pods = [j for j in jobs if any(sd.get("role") == "pod" for sd in j.get("kubernetes_sd_configs", []))]
    assert pods, jobs
    keep = [r for j in pods for r in j["relabel_configs"] if r.get("action") == "keep"]
    assert any("__meta_kubernetes_pod_annotation_prometheus_io_scrape" in r["source_labels"] for r in keep), keep


def _secret_text(secret, key):
    import base64  # noqa: PLC0415

    if key in (secret.get("stringData") or {}):
        return secret["stringData"][key]
    return base64.b64decode(secret["data"][key]).decode()


CONTROL_PLANE = ("controller-manager", "scheduler", "etcd", "kube-proxy")


def _control_plane_objects(objects):
    return sorted(o["kind"] + "/" + o["metadata"]["name"] for o in objects
                  if o["kind"] in ("ServiceMonitor", "Service", "PrometheusRule")
                  and any(c in o["metadata"]["name"] for c in CONTROL_PLANE))


def test_control_plane_targets_that_cannot_be_up_are_not_scraped_nor_alerted_on(kps):
    assert _control_plane_objects(kps) == []


def _control_plane(rendered, distribution, **role_vars):
    objects = rendered(["kube_prometheus_stack"], kube_prometheus_stack_scrape_control_plane=True,
                       kube_prometheus_stack_distribution=distribution, **role_vars)["kube-prometheus-stack"]
    def by_name(kind, namespace=None):
        return {o["metadata"]["name"].split("kube-prometheus-stack-")[-1]: o for o in of_kind(objects, kind)
                if namespace is None or o["metadata"].get("namespace") == namespace}

    services, monitors, endpoints = by_name("Service", "kube-system"), by_name("ServiceMonitor"), by_name("Endpoints")
    return objects, services, monitors, endpoints


def _scheme(monitor):
    endpoint = monitor["spec"]["endpoints"][0]
    return endpoint.get("scheme", "http"), (endpoint.get("tlsConfig") or {}).get("insecureSkipVerify", False)


TARGETS = {"kube-controller-manager": (10257, "https"), "kube-scheduler": (10259, "https"),
           "kube-etcd": (2381, "http"), "kube-proxy": (10249, "http")}


@pytest.mark.parametrize(("distribution", "proxy_selector"), [("kubeadm", {"k8s-app": "kube-proxy"}),
                                                             ("rke2", {"component": "kube-proxy"})])
def test_static_pod_distributions_select_the_components_pods_on_their_secure_ports(rendered, distribution,
                                                                                   proxy_selector):
    objects, services, monitors, endpoints = _control_plane(rendered, distribution)
    assert set(services) >= set(TARGETS) and set(monitors) >= set(TARGETS), (services.keys(), monitors.keys())
    assert endpoints == {}, "pods, not addresses"
    selectors = {"kube-controller-manager": {"component": "kube-controller-manager"},
                 "kube-scheduler": {"component": "kube-scheduler"}, "kube-etcd": {"component": "etcd"},
                 "kube-proxy": proxy_selector}
    for name, (port, scheme) in TARGETS.items():
        assert services[name]["spec"]["selector"] == selectors[name], name
        assert [(p["port"], p["targetPort"]) for p in services[name]["spec"]["ports"]] == [(port, port)], name
        assert _scheme(monitors[name]) == (scheme, scheme == "https"), name
    rules = _control_plane_objects(objects)
    for component in CONTROL_PLANE:
        assert any(component in f for f in rules if f.startswith("PrometheusRule/")), (component, rules)


def test_k3s_gets_the_server_addresses_and_no_etcd_without_embedded_etcd(rendered):
    _objects, services, monitors, endpoints = _control_plane(
        rendered, "k3s", kube_prometheus_stack_control_plane_endpoints=["192.0.2.10"],
        kube_prometheus_stack_kube_proxy_endpoints=["192.0.2.10", "192.0.2.11"])
    assert "kube-etcd" not in services and "kube-etcd" not in monitors, "SQLite (kine) has no etcd metrics"
    for name in ("kube-controller-manager", "kube-scheduler", "kube-proxy"):
        assert "selector" not in services[name]["spec"], "k3s runs no pod to select"
        port = TARGETS[name][0]
        subset = endpoints[name]["subsets"][0]
        assert [p["port"] for p in subset["ports"]] == [port], name
        want = ["192.0.2.10", "192.0.2.11"] if name == "kube-proxy" else ["192.0.2.10"]
        assert [a["ip"] for a in subset["addresses"]] == want, name
        assert _scheme(monitors[name])[0] == TARGETS[name][1], name


def test_k3s_with_embedded_etcd_scrapes_etcd_on_the_servers(rendered):
    _objects, services, monitors, endpoints = _control_plane(
        rendered, "k3s", kube_prometheus_stack_control_plane_endpoints=["192.0.2.10"],
        kube_prometheus_stack_k3s_embedded_etcd=True)
    assert [a["ip"] for a in endpoints["kube-etcd"]["subsets"][0]["addresses"]] == ["192.0.2.10"]
    assert _scheme(monitors["kube-etcd"]) == ("http", False)
    # kube-proxy falls back to the servers when no node list is given
    assert [a["ip"] for a in endpoints["kube-proxy"]["subsets"][0]["addresses"]] == ["192.0.2.10"]


def test_generic_and_switched_off_targets_render_nothing(rendered):
    objects, _s, _m, _e = _control_plane(rendered, "generic")
    assert _control_plane_objects(objects) == [], "an unknown layout is not scraped"
    objects, services, monitors, _e = _control_plane(rendered, "kubeadm", kube_prometheus_stack_scrape_kube_proxy=False,
                                                     kube_prometheus_stack_scrape_etcd=False)
    assert set(monitors) & set(TARGETS) == {"kube-controller-manager", "kube-scheduler"}, monitors.keys()


def test_host_processes_get_endpoints_and_their_own_ports(rendered):
    """The lab's shape: the components are processes on one address, on ports of their own."""
    _objects, services, _monitors, endpoints = _control_plane(
        rendered, "kubeadm", kube_prometheus_stack_control_plane_endpoints=["10.250.0.1"],
        kube_prometheus_stack_kube_proxy_endpoints=["10.244.240.11"],
        kube_prometheus_stack_control_plane_ports={"controller_manager": 40001, "scheduler": 40002, "etcd": 40003})
    got = {name: ([a["ip"] for a in e["subsets"][0]["addresses"]], e["subsets"][0]["ports"][0]["port"])
           for name, e in endpoints.items() if name in TARGETS}
    assert got == {"kube-controller-manager": (["10.250.0.1"], 40001), "kube-scheduler": (["10.250.0.1"], 40002),
                   "kube-etcd": (["10.250.0.1"], 40003), "kube-proxy": (["10.244.240.11"], 10249)}


# --- Alertmanager -----------------------------------------------------------------------------
def test_alertmanager_is_deployed_without_a_volume(kps):
    spec = only(kps, "Alertmanager")["spec"]
    assert "storage" not in spec
    assert spec.get("replicas", 1) >= 1


def _alertmanager_config(objects):
    secret = only(objects, "Secret", "alertmanager-kube-prometheus-stack-alertmanager")
    return _secret_text(secret, "alertmanager.yaml")


def _amtool_check(objects, tmp_path):
    """amtool check-config of the pinned Alertmanager on the config the chart put in its Secret."""
    amtool = Binaries.discover().amtool
    assert amtool.is_file(), "no %s: run `bash tools/lab/build.sh amtool` (make lab-build)" % amtool
    path = tmp_path / "alertmanager.yaml"
    path.write_text(_alertmanager_config(objects))
    proc = subprocess.run([str(amtool), "check-config", str(path)], capture_output=True, text=True, check=False)
    return proc, load_yaml(path.read_text())


@pytest.mark.parametrize("configured", [False, True, "readme"], ids=["default", "every-kind", "readme-example"])
def test_the_alertmanager_config_the_chart_renders_passes_amtool(rendered, tmp_path, configured):
    extra = {False: {}, True: EVERY_KIND, "readme": readme_example()}[configured]
    objects = rendered(["kube_prometheus_stack"], **extra)["kube-prometheus-stack"]
    proc, config = _amtool_check(objects, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert config["route"]["routes"][0]["matchers"] == ['alertname = "Watchdog"']
    assert config["inhibit_rules"], "the chart's inhibit rules are kept"
    assert " - %d receivers" % (1 + len(RECEIVERS) if configured else 1) in proc.stdout, proc.stdout
    if configured:
        assert config["route"]["receiver"] == "email"
        kinds = {k for r in config["receivers"] for k in r if k.endswith("_configs")}
        assert kinds == {"webhook_configs", "email_configs", "discord_configs", "telegram_configs", "slack_configs"}
        mounted = only(objects, "Alertmanager")["spec"]["secrets"]
        assert mounted == [SECRET]


def test_amtool_refuses_a_config_alertmanager_would_refuse(rendered, tmp_path):
    # Past the role's own checks (an override), so only amtool stands between this config and Alertmanager.
    broken = {"alertmanager": {"config": {"route": {"receiver": "nobody"}}}}
    objects = rendered(["kube_prometheus_stack"],
                       kube_prometheus_stack_values_overrides=broken)["kube-prometheus-stack"]
    proc, _ = _amtool_check(objects, tmp_path)
    assert proc.returncode != 0, proc.stdout
    assert 'undefined receiver "nobody"' in proc.stdout + proc.stderr, proc.stdout + proc.stderr


# --- Ingress hosts ----------------------------------------------------------------------------
def test_with_an_ingress_class_the_seed_hosts_are_served(rendered):
    with_ingress = rendered(["kube_prometheus_stack"], kube_prometheus_stack_ingress_class_name="traefik")
    objects = with_ingress["kube-prometheus-stack"]
    hosts = {rule["host"]: ing["spec"]["ingressClassName"]
             for ing in of_kind(objects, "Ingress") for rule in ing["spec"]["rules"]}
    assert hosts == {"prometheus.homelab.local": "traefik", "alertmanager.homelab.local": "traefik",
                     "grafana.homelab.local": "traefik"}


def test_without_an_ingress_class_no_ingress_is_rendered(kps):
    assert of_kind(kps, "Ingress") == []


# --- Grafana ----------------------------------------------------------------------------------
def _grafana(kps):
    return only(kps, "Deployment", "-grafana")["spec"]["template"]["spec"]


def test_grafana_keeps_its_data_on_an_nfs_client_claim(kps):
    claim = only(kps, "PersistentVolumeClaim", "-grafana")
    assert claim["spec"]["storageClassName"] == "nfs-client"
    volumes = {v["name"]: v for v in _grafana(kps)["volumes"]}
    assert volumes["storage"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


def test_grafana_takes_its_admin_from_the_grafana_admin_secret(kps):
    grafana = next(c for c in _grafana(kps)["containers"] if c["name"] == "grafana")
    env = env_of(grafana)
    assert env["GF_SECURITY_ADMIN_USER"] == {"secretKeyRef": {"name": "grafana-admin", "key": "admin-user"}}
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == {"secretKeyRef": {"name": "grafana-admin", "key": "admin-password"}}
    assert not [s for s in of_kind(kps, "Secret") if s["metadata"]["name"].endswith("-grafana")], \
        "the chart must not render its own admin Secret"


def test_grafana_has_prometheus_default_and_loki_at_urls_of_rendered_services(stack, kps):
    configmap = only(kps, "ConfigMap", "-grafana-datasource")
    datasources = {d["name"]: d for d in load_yaml(configmap["data"]["datasource.yaml"])["datasources"]}
    assert datasources["Prometheus"]["isDefault"] is True
    assert datasources["Loki"]["type"] == "loki" and not datasources["Loki"]["isDefault"]
    for name in ("Prometheus", "Loki"):
        assert _service_urls_resolve(datasources[name]["url"], stack, "monitoring"), datasources[name]["url"]


def test_grafana_loads_dashboards_from_labelled_configmaps_in_all_namespaces(kps):
    sidecar = next(c for c in _grafana(kps)["containers"] if c["name"] == "grafana-sc-dashboard")
    env = env_of(sidecar)
    assert (env["LABEL"], env["LABEL_VALUE"], env["NAMESPACE"]) == ("grafana_dashboard", "1", "ALL")


def test_vpa_recommendations_become_metrics_from_the_status_path(kps):
    configmap = only(kps, "ConfigMap", "-customresourcestate-config")
    resources = load_yaml(configmap["data"]["config.yaml"])["spec"]["resources"]
    vpa = next(r for r in resources if r["groupVersionKind"]["kind"] == "VerticalPodAutoscaler")
    paths = {tuple(m["each"]["gauge"]["path"]) for m in vpa["metrics"]}
    assert paths == {("status", "recommendation", "containerRecommendations")}
    args = only(kps, "Deployment", "-kube-state-metrics")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--custom-resource-state-config-file=/etc/customresourcestate/config.yaml" in args


# --- Loki -------------------------------------------------------------------------------------
def test_loki_is_one_single_binary_with_a_10gi_nfs_client_volume(stack):
    loki = stack["loki"]
    statefulset = only(loki, "StatefulSet")
    assert statefulset["spec"]["replicas"] == 1
    container = next(c for c in statefulset["spec"]["template"]["spec"]["containers"] if c["name"] == "loki")
    assert "-target=all" in container["args"]
    claim = statefulset["spec"]["volumeClaimTemplates"][0]["spec"]
    assert (claim["storageClassName"], claim["resources"]["requests"]["storage"]) == ("nfs-client", "10Gi")
    assert of_kind(loki, "Deployment") == [], "no gateway, no scalable targets"


def test_loki_stores_on_the_filesystem_and_its_compactor_deletes_after_168h(stack):
    config = load_yaml(only(stack["loki"], "ConfigMap", "loki")["data"]["config.yaml"])
    assert "filesystem" in config["common"]["storage"]
    assert {c["object_store"] for c in config["schema_config"]["configs"]} == {"filesystem"}
    assert config["compactor"]["retention_enabled"] is True
    assert config["limits_config"]["retention_period"] == "168h"


# --- Alloy ------------------------------------------------------------------------------------
def test_alloy_runs_on_every_node_reading_pod_logs_and_the_audit_log(stack):
    daemonset = only(stack["alloy"], "DaemonSet")
    spec = daemonset["spec"]["template"]["spec"]
    tolerated = {t["key"] for t in spec.get("tolerations", [])}
    assert "node-role.kubernetes.io/control-plane" in tolerated
    host_paths = {v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    assert {"/var/log", "/var/log/kubernetes/audit"} <= host_paths
    alloy = next(c for c in spec["containers"] if c["name"] == "alloy")
    assert alloy["securityContext"]["runAsUser"] == 0 and alloy["securityContext"]["privileged"] is False
    mounts = {m["mountPath"]: m for m in alloy["volumeMounts"]}
    assert mounts["/var/log"]["readOnly"] is True


def test_alloy_ships_to_the_loki_service_the_loki_chart_renders(stack):
    config = only(stack["alloy"], "ConfigMap")["data"]["config.alloy"]
    assert 'job"      = "kubernetes-audit"' in config
    urls = [line.split('"')[1] for line in config.splitlines() if line.strip().startswith("url")]
    assert urls and all(url.endswith("/loki/api/v1/push") for url in urls), urls
    assert all(_service_urls_resolve(url, stack, "monitoring") for url in urls), urls


# --- VPA and Goldilocks -----------------------------------------------------------------------
def test_vpa_runs_the_recommender_only_in_kube_system(stack):
    deployments = of_kind(stack["vpa"], "Deployment")
    assert [d["metadata"]["name"] for d in deployments] == ["vpa-recommender"]
    assert only(stack["vpa"], "Deployment")["metadata"].get("namespace", "kube-system") == "kube-system"


def test_goldilocks_watches_all_but_the_two_system_namespaces_and_is_on_by_default(stack):
    goldilocks = stack["goldilocks"]
    command = only(goldilocks, "Deployment", "-controller")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--on-by-default=true" in command
    assert "--exclude-namespaces=kube-node-lease,kube-public" in command
    assert only(goldilocks, "Deployment", "-dashboard")
    assert not [d for d in of_kind(goldilocks, "Deployment") if "vpa" in d["metadata"]["name"]], \
        "goldilocks' own vpa subchart stays off: the vpa role installs the recommender"


class _RenderedLoki:
    """What loki.retention reads from a Loki that runs the configuration the chart rendered."""

    def __init__(self, objects):
        self.text = only(objects, "ConfigMap", "loki")["data"]["config.yaml"]

    def config(self):
        return self.text


def test_the_rendered_loki_configuration_passes_the_retention_check_and_a_changed_one_fails(stack, rendered):
    assert check_retention(_RenderedLoki(stack["loki"]), "7d").startswith("limits_config.retention_period 168h")
    shorter = rendered(roles=["loki"], loki_retention_period="24h")
    with pytest.raises(CheckFailed, match="retention_period is 24h, expected 168h"):
        check_retention(_RenderedLoki(shorter["loki"]), "168h")
