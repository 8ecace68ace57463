"""The deployed stack's memory on the lab's real nodes (run by `make bench`; prints a table, asserts nothing).

What the kubelet's cAdvisor reports for each pod on a real node (``container_memory_rss`` and
``container_memory_working_set_bytes`` of the pod's cgroup, read through the stack's own Prometheus),
now and at its peak over the last hour, beside the number of series in Prometheus' head. A pod runs a
stand-in when one of its containers' images is a lab stand-in (tools/lab/labctl/standin_images.py):
those are summed apart and are not the components' footprint. The lab's own pods (its alert sink)
are left out.

Needs a lab with real nodes and the stack deployed (`make lab`); says so and measures nothing otherwise.
LAB_DIR selects the lab (default: the checkout's .lab).
"""

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl.control import Lab  # noqa: E402
from labctl.kubeapi import ApiError  # noqa: E402
from labctl.standin_images import STAND_INS  # noqa: E402

PROMETHEUS = "/api/v1/namespaces/monitoring/services/kube-prometheus-stack-prometheus:9090/proxy"
LAB_NAMESPACES = ("lab-alerts",)
MIB = 1 << 20


def query(api, expr: str) -> list:
    return api.get(PROMETHEUS + "/api/v1/query?query=" + urllib.parse.quote(expr))["data"]["result"]


def per_pod(api, expr: str) -> dict:
    return {(r["metric"]["namespace"], r["metric"]["pod"]): float(r["value"][1]) for r in query(api, expr)}


def stand_in_pods(api) -> set:
    """(namespace, pod) of the pods that run a stand-in image."""
    references = {s.reference for s in STAND_INS}
    pods = api.get("/api/v1/pods")["items"]
    found = set()
    for pod in pods:
        images = {c.get("image", "") for c in pod["spec"].get("containers", []) + pod["spec"].get("initContainers", [])}
        # containerd normalises Docker Hub names (grafana/loki -> docker.io/grafana/loki)
        if any(i in references or "docker.io/" + i in references for i in images):
            found.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))
    return found


def main() -> int:
    lab = Lab.discover()
    if not lab.healthy() or not lab.read_state().get("real_nodes"):
        print("bench_footprint: needs a lab with real nodes and the stack (make lab): nothing measured")
        return 0
    api = lab.api()
    cgroup = '{job="kubelet",metrics_path="/metrics/cadvisor",pod!=""}'
    try:
        rss = per_pod(api, "container_memory_rss" + cgroup)
        working = per_pod(api, "container_memory_working_set_bytes" + cgroup)
        peak = per_pod(api, "max_over_time(container_memory_rss%s[1h])" % cgroup)
        series = query(api, "prometheus_tsdb_head_series")
    except ApiError as exc:
        print("bench_footprint: the stack's Prometheus does not answer (%s): nothing measured" % exc)
        return 0
    stand_ins = stand_in_pods(api)
    totals = {"real": [0.0, 0.0, 0.0], "stand-in": [0.0, 0.0, 0.0]}
    print("\nbench_footprint: lab %s, pods on its real nodes (cAdvisor, per pod cgroup)" % lab.paths.root)
    print("%-12s %-56s %-9s %9s %9s %9s" % ("namespace", "pod", "runs", "RSS MiB", "WSS MiB", "peak MiB"))
    for key in sorted(rss, key=lambda k: -rss[k]):
        if key[0] in LAB_NAMESPACES:
            continue
        kind = "stand-in" if key in stand_ins else "real"
        row = (rss[key], working.get(key, 0.0), peak.get(key, rss[key]))
        totals[kind] = [a + b for a, b in zip(totals[kind], row, strict=True)]
        print("%-12s %-56s %-9s %9.1f %9.1f %9.1f" % (key[0], key[1][:56], kind, *(v / MIB for v in row)))
    for kind, row in totals.items():
        print("%-12s %-56s %-9s %9.1f %9.1f %9.1f" % ("", "sum", kind, *(v / MIB for v in row)))
    if series:
        print("Prometheus head series: %s" % series[0]["value"][1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
