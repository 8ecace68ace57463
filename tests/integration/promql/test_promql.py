"""Every PromQL expression of the capacity dashboards and of the alert rules, evaluated by a real
Prometheus (Debian package) that scrapes a real node-exporter (Debian package) and a real
kube-state-metrics (built by tools/lab/build.sh) watching the lab's apiserver.

The test puts a workload with requests and limits and a VerticalPodAutoscaler with a recommendation
into the lab, so that kube-state-metrics has something to report. kube-state-metrics runs with the
custom resource state configuration the kube_prometheus_stack role renders (vpa_status_recommendation*).

Each expression must parse and evaluate; when every metric it names exists in the lab, a dashboard
expression must also return data. Metrics only a real kubelet serves (cAdvisor, volume stats) do
not exist in the lab (kwok runs no kubelet): those expressions are checked for parsing and
evaluation only, and listed in the test output.

Where kube-state-metrics cannot be built (the Go module proxy of some workplaces refuses
k8s.io/kube-state-metrics/v2), Prometheus and node-exporter still run: every expression is parsed and
evaluated, node-exporter expressions must return data, and the kube-state-metrics checks are skipped
with that reason.
"""

import importlib.util
import json
import re
import shutil
import socket
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from labctl.paths import charts_dir

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("rendering", ROOT / "tests" / "unit" / "roles" / "rendering.py")
rendering = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rendering)

# Served by the kubelet (cAdvisor / volume stats), which the lab does not run.
KUBELET_METRICS = {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                   "kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes",
                   "kubelet_volume_stats_available_bytes"}
GRAFANA_VARIABLES = {"$namespace": ".*"}
KSM_PREFIXES = ("kube_", "vpa_")
KEYWORDS = {"sum", "count", "avg", "min", "max", "by", "on", "without", "ignoring", "group_left", "group_right",
            "and", "or", "unless", "bool", "offset", "rate", "irate", "increase", "absent", "topk", "bottomk"}


def vpa_crds():
    """The VPA CRDs of the pinned vpa chart archive (make charts), as the stack installs them."""
    lock = yaml.safe_load((ROOT / "charts.lock.yml").read_text())
    version = next(c["version"] for c in lock["charts"] if c["name"] == "vpa")
    archive = charts_dir() / ("vpa-%s.tgz" % version)
    assert archive.is_file(), "no %s: run `make charts`" % archive
    with tarfile.open(archive) as tar:
        return tar.extractfile("vpa/crds/vpa-v1-crd.yaml").read().decode()


def metric_names(expr):
    """Metric names an expression selects (label matchers, grouping lists and strings removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        name = match.group(0)
        following = text[match.end():].lstrip()
        if name in KEYWORDS or following.startswith("("):
            continue
        names.add(name)
    return names


def substitute(expr):
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    comps = rendering.render_roles(["kube_prometheus_stack", "capacity_dashboards"],
                                   tmp_path_factory.mktemp("render"))
    stack = next(c for c in comps["kube_prometheus_stack"] if c["name"] == "kube-prometheus-stack")
    return {
        "rules": rendering.alert_rule_groups(comps["kube_prometheus_stack"]),
        "dashboards": rendering.dashboard_models(comps["capacity_dashboards"]),
        "ksm_config": stack["values"]["kube-state-metrics"]["customResourceState"]["config"],
    }


@pytest.fixture(scope="module")
def workload(lab):
    """A namespace with a Deployment (requests + limits), a DaemonSet and a VPA carrying a recommendation."""
    from kubernetes import client  # noqa: PLC0415

    lab.wait_apiserver_ready()  # other tests restart the shared lab apiserver
    api = lab.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ext, custom = client.ApiextensionsV1Api(api), client.CustomObjectsApi(api)
    namespace = "promql-%s" % uuid.uuid4().hex[:6]
    created_crd = False
    try:
        ext.read_custom_resource_definition("verticalpodautoscalers.autoscaling.k8s.io")
    except client.ApiException as exc:
        if exc.status != 404:
            raise
        crd = next(d for d in yaml.safe_load_all(vpa_crds())
                   if d and d["metadata"]["name"].startswith("verticalpodautoscalers."))
        ext.create_custom_resource_definition(crd)
        created_crd = True
        wait_for(lambda: any(c.type == "Established" and c.status == "True" for c in
                             ext.read_custom_resource_definition(crd["metadata"]["name"]).status.conditions or []),
                 30, "the VPA CRD")
    core.create_namespace({"metadata": {"name": namespace}})
    labels = {"app": "capacity-probe"}
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "capacity-probe", "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "registry.invalid/probe:1", "resources": {
                "requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}}]}}},
    })
    # The Alloy alert reads kube_daemonset_* series, which exist only while some DaemonSet does.
    ds_labels = {"app": "capacity-probe-ds"}
    apps.create_namespaced_daemon_set(namespace, {
        "metadata": {"name": "capacity-probe-ds", "labels": ds_labels},
        "spec": {"selector": {"matchLabels": ds_labels}, "template": {
            "metadata": {"labels": ds_labels},
            "spec": {"containers": [{"name": "agent", "image": "registry.invalid/probe:1"}]}}},
    })
    vpa = {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
           "metadata": {"name": "capacity-probe"},
           "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "capacity-probe"},
                    "updatePolicy": {"updateMode": "Off"}}}
    custom.create_namespaced_custom_object("autoscaling.k8s.io", "v1", namespace, "verticalpodautoscalers", vpa)
    recommendation = {"containerName": "app", "target": {"cpu": "25m", "memory": "262144k"},
                      "lowerBound": {"cpu": "10m", "memory": "131072k"},
                      "upperBound": {"cpu": "200m", "memory": "524288k"},
                      "uncappedTarget": {"cpu": "25m", "memory": "262144k"}}
    custom.patch_namespaced_custom_object_status(
        "autoscaling.k8s.io", "v1", namespace, "verticalpodautoscalers", "capacity-probe",
        {"status": {"recommendation": {"containerRecommendations": [recommendation]}}})
    wait_for(lambda: len([p for p in core.list_namespaced_pod(namespace, label_selector="app=capacity-probe").items
                          if p.status.phase == "Running"]) == 2, 60, "the probe pods to run (kwok)")
    yield namespace
    core.delete_namespace(namespace)
    if created_crd:
        ext.delete_custom_resource_definition("verticalpodautoscalers.autoscaling.k8s.io")


@pytest.fixture(scope="module")
def binaries(lab):
    found = {"prometheus": shutil.which("prometheus"), "node_exporter": shutil.which("prometheus-node-exporter")}
    missing = [name for name, path in found.items() if not path]
    if missing:
        pytest.skip("missing %s: run tools/install-debian-deps.sh" % ", ".join(missing))
    ksm = Path(str(lab.kube_state_metrics))
    found["kube_state_metrics"] = str(ksm) if ksm.is_file() else None
    return found


@pytest.fixture(scope="module")
def ksm_workload(request, binaries):
    """The probe workload, only when kube-state-metrics can report it."""
    if not binaries["kube_state_metrics"]:
        return None
    return request.getfixturevalue("workload")


class Prometheus:
    def __init__(self, url, ksm_running):
        self.url = url
        self.ksm_running = ksm_running

    def __call__(self, expr):
        return requests.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10).json()

    def require_ksm(self):
        if not self.ksm_running:
            pytest.skip("kube-state-metrics is not built (tools/lab/build.sh could not fetch "
                        "k8s.io/kube-state-metrics/v2 from the Go module proxy here)")


@pytest.fixture(scope="module")
def prometheus(lab, rendered, binaries, ksm_workload, tmp_path_factory):
    work = tmp_path_factory.mktemp("promql")
    ports = {name: free_port() for name in ("prometheus", "node_exporter", "ksm", "ksm_telemetry")}
    (work / "ksm-crs.yaml").write_text(yaml.safe_dump(rendered["ksm_config"]))
    jobs = [{"job_name": "node-exporter", "static_configs": [{"targets": ["127.0.0.1:%d" % ports["node_exporter"]]}]}]
    commands = {
        "node-exporter": [binaries["node_exporter"], "--web.listen-address=127.0.0.1:%d" % ports["node_exporter"],
                          "--no-collector.systemd"],
    }
    if binaries["kube_state_metrics"]:
        jobs.append({"job_name": "kube-state-metrics", "honor_labels": True,
                     "static_configs": [{"targets": ["127.0.0.1:%d" % ports["ksm"]]}]})
        commands["kube-state-metrics"] = [
            binaries["kube_state_metrics"], "--kubeconfig=%s" % lab.kubeconfig, "--host=127.0.0.1",
            "--port=%d" % ports["ksm"], "--telemetry-host=127.0.0.1", "--telemetry-port=%d" % ports["ksm_telemetry"],
            "--custom-resource-state-config-file=%s" % (work / "ksm-crs.yaml")]
    # The role's rules too: the recording rules behind vpa_status_recommendation run for real.
    (work / "rules.yml").write_text(yaml.safe_dump({"groups": rendered["rules"]}))
    (work / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": ["rules.yml"],
        "scrape_configs": jobs}))
    commands["prometheus"] = [binaries["prometheus"], "--config.file=%s" % (work / "prometheus.yml"),
                              "--storage.tsdb.path=%s" % (work / "data"),
                              "--web.listen-address=127.0.0.1:%d" % ports["prometheus"]]
    procs = {}
    try:
        for name, command in commands.items():
            log = open(work / ("%s.log" % name), "wb")  # noqa: SIM115 - closed with the process
            procs[name] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work,
                                            stdin=subprocess.DEVNULL, start_new_session=True), log)
        query = Prometheus("http://127.0.0.1:%d" % ports["prometheus"], bool(binaries["kube_state_metrics"]))

        def ready():
            for name, (proc, _) in procs.items():
                if proc.poll() is not None:
                    raise AssertionError("%s exited: %s" % (name, (work / ("%s.log" % name)).read_text()[-2000:]))
            checks = [query("sum(up)"), query("count(rate(node_cpu_seconds_total[5m]))")]
            if ksm_workload:
                checks.append(query('count(kube_pod_container_resource_limits{namespace="%s"})' % ksm_workload))
            if not all(r.get("status") == "success" and r["data"]["result"] for r in checks):
                return False
            return float(checks[0]["data"]["result"][0]["value"][1]) == len(jobs)

        wait_for(ready, 90, "Prometheus to scrape %s" % ", ".join(j["job_name"] for j in jobs))
        yield query
    finally:
        for proc, _log in procs.values():
            proc.terminate()
        for proc, log in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def _lab_metrics(query):
    result = query('count by (__name__) ({__name__=~".+"})')
    return {r["metric"]["__name__"] for r in result["data"]["result"]}


def _evaluate(query, expressions):
    """[(where, expr, metrics, status, n_results, error)] for each expression."""
    rows = []
    for where, expr in expressions:
        result = query(substitute(expr))
        ok = result.get("status") == "success"
        rows.append((where, expr, metric_names(expr), ok, len(result["data"]["result"]) if ok else 0,
                     result.get("error")))
    return rows


def _dashboard_expressions(models):
    for file_name, model in sorted(models.items()):
        for panel in model["panels"]:
            for target in panel.get("targets", []):
                yield "%s / %s / %s" % (file_name, panel["title"], target["refId"]), target["expr"]


def test_metric_name_extraction():
    assert metric_names('sum by (namespace) (kube_pod_info{namespace=~"a|b"} * on (pod) group_left () '
                        '(max by (pod) (kube_pod_status_phase{phase="Running"}) == 1))') == {
        "kube_pod_info", "kube_pod_status_phase"}
    assert metric_names('absent(up{job="loki"} == 1)') == {"up"}
    assert metric_names("1 - avg(rate(node_cpu_seconds_total[5m]))") == {"node_cpu_seconds_total"}


def test_dashboard_expressions(prometheus, rendered, capsys):
    expressions = list(_dashboard_expressions(rendered["dashboards"]))
    assert len(expressions) >= 25
    present = _lab_metrics(prometheus)
    rows = _evaluate(prometheus, expressions)
    problems, kubelet_only, no_ksm, with_data = [], [], [], 0
    for where, expr, metrics, ok, count, error in rows:
        if not ok:
            problems.append("%s: does not evaluate: %s\n    %s" % (where, error, expr))
            continue
        unknown = metrics - present - KUBELET_METRICS
        if not prometheus.ksm_running:
            unknown = {m for m in unknown if not m.startswith(KSM_PREFIXES)}
        if unknown:
            problems.append("%s: metrics neither in the lab nor kubelet-only: %s" % (where, sorted(unknown)))
        elif metrics & KUBELET_METRICS:
            kubelet_only.append(where)
        elif metrics - present:
            no_ksm.append(where)
        elif count == 0:
            problems.append("%s: returns no data although its metrics exist\n    %s" % (where, expr))
        else:
            with_data += 1
    with capsys.disabled():
        print("\n  promql: %d dashboard expressions evaluated: %d returned data, %d kubelet-only, "
              "%d need kube-state-metrics (%s)" % (len(rows), with_data, len(kubelet_only), len(no_ksm),
                                                  "running" if prometheus.ksm_running else "not built here"))
    assert not problems, "\n".join(problems)


def test_rule_expressions(prometheus, rendered):
    rules = [(r.get("alert") or "record %s %s" % (r["record"], r.get("labels")), r["expr"])
             for g in rendered["rules"] for r in g["rules"]]
    assert len(rules) == 14
    present = _lab_metrics(prometheus)
    problems = []
    for where, _expr, metrics, ok, _, error in _evaluate(prometheus, rules):
        if not ok:
            problems.append("%s: does not evaluate: %s" % (where, error))
        unknown = metrics - present - KUBELET_METRICS
        if not prometheus.ksm_running:
            unknown = {m for m in unknown if not m.startswith(KSM_PREFIXES)}
        if unknown:
            problems.append("%s: metrics neither in the lab nor kubelet-only: %s" % (where, sorted(unknown)))
    assert not problems, "\n".join(problems)


def test_namespace_breakdown_sees_the_probe_workload(prometheus, ksm_workload):
    prometheus.require_ksm()
    workload = ksm_workload
    requests_cpu = prometheus('sum(kube_pod_container_resource_requests{resource="cpu", namespace="%s"})' % workload)
    assert float(requests_cpu["data"]["result"][0]["value"][1]) == pytest.approx(0.2)
    limits_mem = prometheus('sum(kube_pod_container_resource_limits{resource="memory", namespace="%s"})' % workload)
    assert float(limits_mem["data"]["result"][0]["value"][1]) == 2 * 128 * 1024 * 1024


def test_vpa_recommendations_as_metrics(prometheus, ksm_workload):
    """The role's kube-state-metrics custom resource configuration, run by the real kube-state-metrics,
    folded into vpa_status_recommendation by the role's recording rules."""
    prometheus.require_ksm()
    workload = ksm_workload
    result = wait_for(lambda: prometheus('vpa_status_recommendation{namespace="%s"}' % workload)["data"]["result"],
                      30, "vpa_status_recommendation")
    series = {(r["metric"]["bound"], r["metric"]["resource"]): r for r in result}
    assert set(series) == {(b, r) for b in ("target", "lower_bound", "upper_bound", "uncapped_target")
                           for r in ("cpu", "memory")}
    cpu = series[("target", "cpu")]
    assert cpu["metric"]["container"] == "app"
    assert cpu["metric"]["unit"] == "core"
    assert cpu["metric"]["verticalpodautoscaler"] == "capacity-probe"
    assert cpu["metric"]["target_kind"] == "Deployment"
    assert cpu["metric"]["target_name"] == "capacity-probe"
    assert float(cpu["value"][1]) == pytest.approx(0.025)
    assert float(series[("target", "memory")]["value"][1]) == 262144000
    assert float(series[("upper_bound", "cpu")]["value"][1]) == pytest.approx(0.2)


def test_dashboards_json_is_what_the_role_ships(rendered):
    for name, model in rendered["dashboards"].items():
        on_disk = json.loads((ROOT / "roles/capacity_dashboards/files/dashboards" / name).read_text())
        assert model == on_disk


def test_node_exporter_expressions_return_data(prometheus, rendered):
    """The host panels need only node-exporter: real data whatever else runs."""
    node = [(w, e) for w, e in _dashboard_expressions(rendered["dashboards"]) if "node_" in e and "kube_" not in e]
    assert len(node) == 2
    for where, _expr, _, ok, count, error in _evaluate(prometheus, node):
        assert ok, (where, error)
        assert count == 1, where
