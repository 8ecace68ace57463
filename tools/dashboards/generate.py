#!/usr/bin/env python3
"""Builds the two capacity dashboards of the seed as code (grafana-foundation-sdk) and writes them
as JSON into roles/capacity_dashboards/files/dashboards/, where the role turns them into ConfigMaps
with the Grafana sidecar label.

    python tools/dashboards/generate.py          # write the JSON files
    python tools/dashboards/generate.py --check  # exit 1 when a committed file is out of date

Every PromQL expression lives in QUERIES below, so tests/integration/promql can evaluate all of them
against a real Prometheus without parsing dashboards.
"""

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import gauge, piechart, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dash_m
from grafana_foundation_sdk.models import piechart as piechart_m
from grafana_foundation_sdk.models import prometheus as prometheus_m

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "roles" / "capacity_dashboards" / "files" / "dashboards"
DS = dash_m.DataSourceRef(type_val="prometheus", uid="${datasource}")

# Pods that still hold their requests: Pending or Running (Succeeded/Failed pods free them).
ACTIVE = ('on (namespace, pod) group_left () '
          '(max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Running"}) == 1)')
NS = 'namespace=~"$namespace"'
CONTAINERS = 'container!="", container!="POD"'


def requests(resource, by="", selector=""):
    return 'sum%s (kube_pod_container_resource_requests{resource="%s"%s} * %s)' % (by, resource, selector, ACTIVE)


def limits(resource, by="", selector=""):
    return 'sum%s (kube_pod_container_resource_limits{resource="%s"%s} * %s)' % (by, resource, selector, ACTIVE)


def cpu_used(by="", selector=""):
    return "sum%s (rate(container_cpu_usage_seconds_total{%s%s}[5m]))" % (by, CONTAINERS, selector)


def mem_used(by="", selector=""):
    return "sum%s (container_memory_working_set_bytes{%s%s})" % (by, CONTAINERS, selector)


def allocatable(resource):
    return 'sum(kube_node_status_allocatable{resource="%s"})' % resource


BY_NS = " by (namespace)"
IN_NS = ", " + NS
QUERIES = {
    # Cluster Capacity Overview
    "cpu_requested": requests("cpu"),
    "cpu_allocatable": allocatable("cpu"),
    "cpu_used": cpu_used(),
    "mem_requested": requests("memory"),
    "mem_allocatable": allocatable("memory"),
    "mem_used": mem_used(),
    "cpu_requested_ratio": "%s / %s" % (requests("cpu"), allocatable("cpu")),
    "cpu_used_ratio": "%s / %s" % (cpu_used(), allocatable("cpu")),
    "mem_requested_ratio": "%s / %s" % (requests("memory"), allocatable("memory")),
    "mem_used_ratio": "%s / %s" % (mem_used(), allocatable("memory")),
    "pods_running": 'sum(kube_pod_status_phase{phase="Running"})',
    "pods_allocatable": allocatable("pods"),
    "nodes_ready": 'sum(kube_node_status_condition{condition="Ready", status="true"})',
    "node_cpu_utilisation": '1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m]))',
    "node_mem_utilisation": "1 - sum(node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes)",
    "cpu_requests_by_ns": requests("cpu", BY_NS),
    "mem_requests_by_ns": requests("memory", BY_NS),
    # Namespace Resource Breakdown
    "ns_cpu_requests": requests("cpu", BY_NS, IN_NS),
    "ns_cpu_limits": limits("cpu", BY_NS, IN_NS),
    "ns_cpu_usage": cpu_used(BY_NS, IN_NS),
    "ns_cpu_efficiency": "%s / %s" % (cpu_used(BY_NS, IN_NS), requests("cpu", BY_NS, IN_NS)),
    "ns_mem_requests": requests("memory", BY_NS, IN_NS),
    "ns_mem_limits": limits("memory", BY_NS, IN_NS),
    "ns_mem_usage": mem_used(BY_NS, IN_NS),
    "ns_mem_efficiency": "%s / %s" % (mem_used(BY_NS, IN_NS), requests("memory", BY_NS, IN_NS)),
    "ns_pods": "count by (namespace) (kube_pod_info{%s})" % NS,
}
# Metrics that only the kubelet (cAdvisor) provides: not present where no real kubelet runs.
KUBELET_ONLY = ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes")
# Grafana variables and their value when an expression is evaluated outside Grafana.
VARIABLES = {"$namespace": ".*"}


def q(key, legend="", instant=False, table_format=False, ref=None):
    target = prometheus.Dataquery().expr(QUERIES[key]).legend_format(legend or "__auto").ref_id(ref or key)
    if instant:
        target = target.instant()
    if table_format:
        target = target.format(prometheus_m.PromQueryFormat.TABLE)
    return target


def reduce_last():
    return common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def ts_panel(title, unit, targets, stacked=False, description=""):
    panel = (timeseries.Panel().title(title).description(description).datasource(DS).unit(unit)
             .fill_opacity(20 if stacked else 10).line_width(1).height(9).span(12))
    if stacked:
        panel = panel.stacking(common_b.StackingConfig().mode(common.StackingMode.NORMAL))
    for target in targets:
        panel = panel.with_target(target)
    return panel


def gauge_panel(title, key, description):
    thresholds = dash.ThresholdsConfig().mode(dash_m.ThresholdsMode.ABSOLUTE).steps([
        dash_m.Threshold(value=None, color="green"),
        dash_m.Threshold(value=0.7, color="orange"),
        dash_m.Threshold(value=0.9, color="red"),
    ])
    return (gauge.Panel().title(title).description(description).datasource(DS).unit("percentunit")
            .min(0).max(1).thresholds(thresholds).reduce_options(reduce_last())
            .with_target(q(key, instant=True)).height(6).span(6))


def stat_panel(title, key, unit="none"):
    return (stat.Panel().title(title).datasource(DS).unit(unit).reduce_options(reduce_last())
            .with_target(q(key, instant=True)).height(6).span(4))


def pie_panel(title, key, unit):
    return (piechart.Panel().title(title).datasource(DS).unit(unit).pie_type(piechart_m.PieChartType.PIE)
            .reduce_options(reduce_last()).with_target(q(key, legend="{{namespace}}", instant=True))
            .height(9).span(12))


def datasource_variable():
    return dash.DatasourceVariable("datasource").label("Data source").type("prometheus")


def cluster_capacity_overview():
    return (
        dash.Dashboard("Cluster Capacity Overview")
        .uid("homelab-cluster-capacity")
        .tags(["capacity", "homelab-observability"])
        .description("CPU and memory requested vs allocatable vs used, pods, and the namespace breakdown: "
                     "how much headroom does the cluster have?")
        .time("now-6h", "now").refresh("1m").timezone("browser").readonly()
        .with_variable(datasource_variable())
        .with_row(dash.Row("CPU"))
        .with_panel(ts_panel("CPU: requested vs allocatable vs used", "cores", [
            q("cpu_requested", "requested", ref="A"), q("cpu_allocatable", "allocatable", ref="B"),
            q("cpu_used", "used", ref="C")]))
        .with_panel(gauge_panel("CPU requested / allocatable", "cpu_requested_ratio",
                                "Share of allocatable CPU reserved by requests of pending and running pods."))
        .with_panel(gauge_panel("CPU used / allocatable", "cpu_used_ratio", "Share of allocatable CPU in use."))
        .with_row(dash.Row("Memory"))
        .with_panel(ts_panel("Memory: requested vs allocatable vs used", "bytes", [
            q("mem_requested", "requested", ref="A"), q("mem_allocatable", "allocatable", ref="B"),
            q("mem_used", "used", ref="C")]))
        .with_panel(gauge_panel("Memory requested / allocatable", "mem_requested_ratio",
                                "Share of allocatable memory reserved by requests of pending and running pods."))
        .with_panel(gauge_panel("Memory used / allocatable", "mem_used_ratio",
                                "Share of allocatable memory in use (working set)."))
        .with_row(dash.Row("Pods"))
        .with_panel(stat_panel("Running pods", "pods_running"))
        .with_panel(stat_panel("Pod capacity", "pods_allocatable"))
        .with_panel(stat_panel("Ready nodes", "nodes_ready"))
        .with_panel(ts_panel("Host CPU and memory utilisation (node-exporter)", "percentunit", [
            q("node_cpu_utilisation", "cpu", ref="A"), q("node_mem_utilisation", "memory", ref="B")],
            description="What the hosts use, system daemons included, next to what pods request.").span(12))
        .with_row(dash.Row("Namespaces"))
        .with_panel(pie_panel("CPU requests by namespace", "cpu_requests_by_ns", "cores"))
        .with_panel(pie_panel("Memory requests by namespace", "mem_requests_by_ns", "bytes"))
    )


def ns_table(title, unit, keys):
    panel = (table.Panel().title(title).datasource(DS).unit(unit).height(10).span(24)
             .with_transformation(dash_m.DataTransformerConfig(id_val="merge", options={}))
             .with_transformation(dash_m.DataTransformerConfig(id_val="organize", options={
                 "excludeByName": {"Time": True},
                 "renameByName": {"Value #%s" % ref: name for ref, (_, name) in keys.items()},
             })))
    for ref, (key, _) in keys.items():
        panel = panel.with_target(q(key, instant=True, table_format=True, ref=ref))
    return panel.show_header(True).override_by_name("Efficiency %", [
        dash_m.DynamicConfigValue(id_val="unit", value="percentunit")])


def namespace_resource_breakdown():
    namespace = (dash.QueryVariable("namespace").label("Namespace").datasource(DS)
                 .query("label_values(kube_pod_info, namespace)").multi(True).include_all(True).all_value(".*")
                 .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dash_m.VariableSort.ALPHABETICAL_ASC))
    return (
        dash.Dashboard("Namespace Resource Breakdown")
        .uid("homelab-namespace-resources")
        .tags(["capacity", "homelab-observability"])
        .description("Per namespace: requests, limits, usage and efficiency (usage / requests) of CPU and memory.")
        .time("now-6h", "now").refresh("1m").timezone("browser").readonly()
        .with_variable(datasource_variable())
        .with_variable(namespace)
        .with_row(dash.Row("CPU"))
        .with_panel(ns_table("CPU by namespace", "cores", {
            "A": ("ns_cpu_requests", "Requests"), "B": ("ns_cpu_limits", "Limits"),
            "C": ("ns_cpu_usage", "Usage"), "D": ("ns_cpu_efficiency", "Efficiency %")}))
        .with_panel(ts_panel("CPU usage by namespace (stacked)", "cores",
                             [q("ns_cpu_usage", "{{namespace}}", ref="A")], stacked=True).span(24))
        .with_row(dash.Row("Memory"))
        .with_panel(ns_table("Memory by namespace", "bytes", {
            "A": ("ns_mem_requests", "Requests"), "B": ("ns_mem_limits", "Limits"),
            "C": ("ns_mem_usage", "Usage"), "D": ("ns_mem_efficiency", "Efficiency %")}))
        .with_panel(ts_panel("Memory usage by namespace (stacked)", "bytes",
                             [q("ns_mem_usage", "{{namespace}}", ref="A")], stacked=True).span(24))
        .with_row(dash.Row("Pods"))
        .with_panel(ts_panel("Pods by namespace (stacked)", "none",
                             [q("ns_pods", "{{namespace}}", ref="A")], stacked=True).span(24))
    )


DASHBOARDS = {
    "cluster-capacity-overview": cluster_capacity_overview,
    "namespace-resource-breakdown": namespace_resource_breakdown,
}


def render(builder):
    model = json.loads(json.dumps(builder().build(), cls=JSONEncoder))
    # Stable, unique panel ids (the SDK leaves them to Grafana).
    for number, panel in enumerate(model["panels"], start=1):
        panel["id"] = number
    return json.dumps(model, sort_keys=True, indent=2) + "\n"


def main(argv):
    check = "--check" in argv
    stale = []
    OUT.mkdir(parents=True, exist_ok=True)
    for name, builder in DASHBOARDS.items():
        path = OUT / ("%s.json" % name)
        text = render(builder)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        elif not path.exists() or path.read_text() != text:
            path.write_text(text)
            print("dashboards: wrote %s" % path.relative_to(ROOT))
    if stale:
        print("dashboards: out of date (run python tools/dashboards/generate.py): %s" % ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
