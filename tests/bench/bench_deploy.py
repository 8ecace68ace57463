"""Benchmarks of the deploy engine on the lab (run by `make bench`; prints tables, asserts nothing).

1. The same stand-in stack (tests/charts) deployed by (a) homelab.observability.waves and (b) plain
   sequential kubernetes.core.helm tasks with wait: true, each in its own namespace, side by side
   in one run: full deploy wall time, the ratio b/a, ours against the critical path (the sum over
   waves of the slowest component of the wave); then a no-change rerun of both: wall time and the
   write requests the apiserver's audit log recorded.
2. A DaemonSet's health gate at 100 and 1000 simulated nodes: API requests per poll and the peak
   memory (max RSS) of the release module process deploying and gating it.

Environment: LAB_DIR (a private lab directory; default: the checkout's .lab), BENCH_NODES
(default "100,1000"), BENCH_SKIP_NODES=1 / BENCH_SKIP_STACK=1 to skip part 2 / part 1. The lab
is started if needed and stopped afterwards only when this run started it; the node count is
put back as it was.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "tests" / "charts"
COLLECTIONS = ROOT / ".build" / "collections"
sys.path.insert(0, str(ROOT / "tools" / "lab"))
sys.path.insert(0, str(COLLECTIONS))

from labctl import audit, nodes  # noqa: E402
from labctl.control import Lab  # noqa: E402

BIN = Path(sys.executable).parent

# The stand-in stack, shaped like the seed's waves (-1: metrics and logs stores, 0: the node
# agent, 1: the rest).
STACK = [
    ("loki", -1, "loki-like"),
    ("kube-prometheus-stack", -1, "operator-like"),
    ("alloy", 0, "node-exporter-like"),
    ("grafana", 1, "grafana-like"),
    ("uptime-kuma", 1, "grafana-like"),
    ("goldilocks", 1, "grafana-like"),
    ("vpa", 1, "grafana-like"),
]


def now():
    return datetime.datetime.now(datetime.UTC)


def ensure_link():
    link = COLLECTIONS / "ansible_collections" / "homelab" / "observability"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT, target_is_directory=True)


def playbook(tasks, path):
    play = [{"name": "bench", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return path


def ours(namespace, kubeconfig, helm):
    components = [
        {"name": name, "wave": wave, "namespace": namespace, "chart": {"ref": str(CHARTS / chart)},
         "binary_path": helm}
        for name, wave, chart in STACK
    ]
    return [{"name": "waves", "homelab.observability.waves": {"kubeconfig": kubeconfig, "components": components}}]


def theirs(namespace, kubeconfig, helm):
    tasks = []
    for name, _wave, chart in sorted(STACK, key=lambda s: s[1]):
        tasks.append({"name": name, "kubernetes.core.helm": {
            "name": name, "chart_ref": str(CHARTS / chart), "release_namespace": namespace, "create_namespace": True,
            "wait": True, "wait_timeout": "300s", "binary_path": helm, "kubeconfig": kubeconfig}})
    return tasks


def run_playbook(path, extra=None):
    """(wall seconds of ansible-playbook, seconds spent in the deploy tasks, task results)."""
    env = os.environ | {"ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                        "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_STDOUT_CALLBACK": "json",
                        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(path)]
    for key, value in (extra or {}).items():
        cmd += ["-e", "%s=%s" % (key, value)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit("bench: %s failed:\n%s\n%s" % (path.name, proc.stdout[-4000:], proc.stderr[-2000:]))
    doc = json.loads(proc.stdout[proc.stdout.index("{"):])
    task_secs = 0.0
    results = []
    for task in doc["plays"][0]["tasks"]:
        if task["task"]["name"] == "timing":
            continue
        span = task["task"]["duration"]
        task_secs += (_parse(span["end"]) - _parse(span["start"])).total_seconds()
        results.append(task["hosts"]["localhost"])
    return elapsed, task_secs, results


def _parse(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def writes(lab, since, namespace):
    out = {"writes": 0, "dry_runs": 0}
    for event in audit.events(Path(lab.info()["audit_log"]), since, None, audit.WRITE_VERBS):
        if (event.get("objectRef") or {}).get("namespace") != namespace:
            continue
        out["dry_runs" if "dryRun=" in event.get("requestURI", "") else "writes"] += 1
    return out


def table(title, header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, header, strict=True))
    print("\n" + title)
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join("%-*s" % (w, c) for w, c in zip(widths, row, strict=True)))


def bench_stack(lab, kubeconfig, helm, tmp):
    ns_a, ns_b = "bench-ours-%s" % uuid.uuid4().hex[:6], "bench-core-%s" % uuid.uuid4().hex[:6]
    pb_a = playbook(ours(ns_a, kubeconfig, helm), tmp / "ours.yml")
    pb_b = playbook(theirs(ns_b, kubeconfig, helm), tmp / "theirs.yml")
    rows = []
    firsts = {}
    for label in ("deploy", "rerun"):
        since_a = now()
        wall_a, task_a, (result,) = run_playbook(pb_a)
        w_a = writes(lab, since_a, ns_a)
        since_b = now()
        wall_b, task_b, _ = run_playbook(pb_b)
        w_b = writes(lab, since_b, ns_b)
        module_a = sum(w["duration"] for w in result["waves"])
        firsts.setdefault("result", result)
        rows.append([label, "%.1f s / %.1f s" % (wall_a, task_a), "%.1f s / %.1f s" % (wall_b, task_b),
                     "%.2f / %.2f" % (wall_a / wall_b, task_a / task_b), "%.1f s" % module_a,
                     "%d (+%d dry-run)" % (w_a["writes"], w_a["dry_runs"]),
                     "%d (+%d dry-run)" % (w_b["writes"], w_b["dry_runs"])])
        firsts[label] = module_a
    table("Stand-in stack: %d releases in 3 waves, helm %s" % (len(STACK), helm),
          ["run", "ours: playbook / task", "kubernetes.core.helm: playbook / tasks", "ours/theirs",
           "ours: module", "ours: writes", "theirs: writes"], rows)
    print("(playbook = wall time of ansible-playbook, including its start-up; task = time inside the deploy "
          "task(s) as Ansible's json callback records it; module = the waves' own durations)")
    # the critical path: each component deployed alone (a fresh namespace), the slowest of each wave summed
    ns_c = "bench-alone-%s" % uuid.uuid4().hex[:6]
    alone = {}
    for name, wave, chart in STACK:
        pb = playbook([{"name": name, "homelab.observability.release": {
            "kubeconfig": kubeconfig, "name": name, "namespace": ns_c, "chart": {"ref": str(CHARTS / chart)},
            "binary_path": helm}}], tmp / ("alone-%s.yml" % name))
        _, _, (res,) = run_playbook(pb)
        alone[name] = (wave, res["timing"]["duration"])
    per_wave = {}
    for wave, secs in alone.values():
        per_wave[wave] = max(per_wave.get(wave, 0.0), secs)
    critical = sum(per_wave.values())
    result = firsts["result"]
    table("Our first deploy, per component (module timing_table) and alone",
          ["wave", "component", "changed", "health", "in its wave", "alone"],
          [[r["wave"], r["component"], r["changed"], r["health"], "%.2f s" % r["duration"],
            "%.2f s" % alone[r["component"]][1]] for r in result["timing_table"]])
    print("critical path (slowest component of each wave, each deployed alone): %.2f s; ours (module): %.2f s; "
          "ratio %.2f" % (critical, firsts["deploy"], firsts["deploy"] / critical))
    for namespace in (ns_a, ns_b, ns_c):
        subprocess.run([str(lab.bins.kubectl), "--kubeconfig", kubeconfig, "delete", "namespace", namespace,
                        "--wait=false"], capture_output=True, check=False)


def bench_daemonset(lab, kubeconfig, helm, tmp, counts):
    from ansible_collections.homelab.observability.plugins.module_utils.kube.client import (  # noqa: PLC0415
        api_client,
    )
    from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import (  # noqa: PLC0415
        KubeApi,
        Ref,
    )
    from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter  # noqa: PLC0415

    labapi = lab.api()
    before = nodes.ready_count(labapi)[1]
    rows = []
    try:
        for count in counts:
            t0 = time.monotonic()
            nodes.reconcile(labapi, count)
            nodes.wait_ready(labapi, count, timeout=600)
            node_secs = time.monotonic() - t0
            namespace = "bench-ds-%d-%s" % (count, uuid.uuid4().hex[:6])
            args = {"ANSIBLE_MODULE_ARGS": {"name": "alloy", "namespace": namespace, "kubeconfig": kubeconfig,
                                            "chart": {"ref": str(CHARTS / "node-exporter-like")},
                                            "binary_path": helm, "wait_timeout": 900}}
            args_file = tmp / ("ds-%d.json" % count)
            args_file.write_text(json.dumps(args))
            reads_before = gate_reads(labapi)
            # RUSAGE_CHILDREN is a high-water mark over all children so far: measure in a fresh child
            probe = subprocess.run([sys.executable, "-c", _MEASURE, str(args_file)], capture_output=True, text=True,
                                   env=os.environ | {"PYTHONPATH": str(COLLECTIONS)}, check=False)
            try:
                result, rss = json.loads(probe.stdout)
            except ValueError as exc:
                raise SystemExit("bench: measuring failed: %s %s" % (probe.stdout[-2000:], probe.stderr[-2000:])) \
                    from exc
            during = {k: v - reads_before.get(k, 0) for k, v in gate_reads(labapi).items()}
            api = KubeApi(api_client({"kubeconfig": kubeconfig}))
            waiter = Waiter(api)
            ref = Ref("apps/v1", "DaemonSet", namespace, "alloy")
            polls = 20
            t1 = time.monotonic()
            for _ in range(polls):
                waiter.observe([ref])
            per_poll_ms = (time.monotonic() - t1) / polls * 1000
            [obs] = waiter.observe([ref])
            rows.append([count, "%.0f s" % node_secs, result.get("health"), "%.1f s" % result["timing"]["wait"],
                         "%.2f" % (api.counts["GET"] / (polls + 1)), "%.1f ms" % per_poll_ms, "%.0f MiB" % rss,
                         obs.health.message,
                         "%d / %d / %d / %d" % (during[("GET", "daemonsets")], during[("LIST", "pods")],
                                                during[("LIST", "nodes")], during[("GET", "nodes")])])
            print("  measured at %d nodes: %s" % (count, rows[-1]), flush=True)
            subprocess.run([str(lab.bins.kubectl), "--kubeconfig", kubeconfig, "delete", "namespace", namespace,
                            "--wait=true", "--timeout=300s"], capture_output=True, check=False)
    finally:
        nodes.reconcile(labapi, before)
    table("DaemonSet health gate (node-exporter-like, helm %s)" % helm,
          ["nodes", "nodes ready in", "health", "module wait", "API requests/poll", "poll latency",
           "module max RSS", "status", "during the wait: GET daemonsets / LIST pods / LIST nodes / GET nodes"], rows)
    print("during the wait: the apiserver's apiserver_request_total before and after the module run, every client "
          "(the lab's controllers watch; kwok GETs a node as it heartbeats it)")


def gate_reads(labapi):
    """{(verb, resource): count} of the reads a health gate makes, from the apiserver's request counter."""
    out = {(verb, res): 0 for verb in ("GET", "LIST") for res in ("daemonsets", "pods", "nodes")}
    text = labapi.request("GET", "/metrics", parse=False, accept="text/plain")
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(part.split("=", 1) for part in line[line.index("{") + 1:line.rindex("}")].split(","))
        key = (labels.get("verb", "").strip('"'), labels.get("resource", "").strip('"'))
        if key in out and labels.get("subresource", '""') == '""':
            out[key] += float(line.rsplit(" ", 1)[1])
    return out


_MEASURE = r"""
import json, os, subprocess, sys
root = os.environ["PYTHONPATH"] + "/ansible_collections/homelab/observability"
proc = subprocess.Popen([sys.executable, root + "/plugins/modules/release.py", sys.argv[1]],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
out, err = proc.communicate()
import resource
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
try:
    result = json.loads(out)
except ValueError:
    sys.stderr.write(out + err)
    raise
print(json.dumps([result, rss]))
"""


def main():
    ensure_link()
    lab = Lab.discover()
    info = lab.up(owner="bench")
    started = not info["reused"]
    kubeconfig = str(lab.paths.kubeconfig)
    helm = str(lab.bins.helm3)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmpdir:
            tmp = Path(tmpdir)
            print("bench_deploy: lab %s (%s), %d nodes" % (lab.paths.root, "started" if started else "reused",
                                                           lab.node_count()))
            if not os.environ.get("BENCH_SKIP_STACK"):
                bench_stack(lab, kubeconfig, helm, tmp)
            if not os.environ.get("BENCH_SKIP_NODES"):
                counts = [int(x) for x in os.environ.get("BENCH_NODES", "100,1000").split(",") if x]
                bench_daemonset(lab, kubeconfig, helm, tmp, counts)
    finally:
        if started and not os.environ.get("LAB_KEEP"):
            lab.down()


if __name__ == "__main__":
    main()
