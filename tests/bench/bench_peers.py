"""The real stack side by side with the tools a user would pick instead (run by `make bench`; prints tables,
asserts nothing; issue 18).

On the kwok lab with the real pinned chart archives (what inventory/lab deploys), each tool on a fresh lab of
its own (a new LAB_DIR under /tmp/peers-lab-*, started and stopped here), three operations: first deploy,
unchanged rerun, a second unchanged rerun (ours remembers the renders the first one matched), one-value change
(a Grafana pod label of kube-prometheus-stack):

  ours      playbooks/deploy.yml with inventory/lab (as bench_real_stack.py);
  core      the same releases as sequential kubernetes.core.helm tasks with wait: true, in wave order;
  helmfile  a helmfile.yaml whose `needs:` encode the same waves, `helmfile sync` (helm-diff is not served,
            so `helmfile apply` cannot run).

core and helmfile are generated from the component specs roles/stack renders (stack_deploy: false) with the
same inventory, so all three deploy the same charts with the same values; the specs that are plain manifests
(exportarr, uptime-kuma, capacity-dashboards) become a local chart of those manifests for the two peers.
The Secrets the stack reads (grafana-admin, the *arr API keys) are created by `lab.py up` on every lab alike.

Per operation: the wall time of the playbook / command; the time inside the tool (ours: the waves module;
core: the helm tasks); the time until every Prometheus and Alertmanager reports Available (the operator's
StatefulSets run; helm's --wait does not look at them, our gate does); the write requests of the admin
user in the lab's audit log (by resource). The critical path is measured apart, on one more fresh lab: ours
with stack_max_parallel 1, so each component deploys alone; the sum over waves of the slowest component
alone. Ours' first deploy prints where each component spent its time (plan, apply, wait).
Environment: BENCH_RUNS (default 1; the tools' order alternates between runs), BENCH_TOOLS (default
"ours,core,helmfile"), BENCH_ALONE=0 skips the critical-path run, BENCH_VARS (JSON) adds inventory variables
to every tool's deploy (the peers get them through the specs).
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "stack"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_deploy import ensure_link, run_playbook, table  # noqa: E402
from deploy_playbook import deploy  # noqa: E402
from labctl import audit  # noqa: E402
from labctl.control import Lab  # noqa: E402
from labctl.kubeapi import ApiError  # noqa: E402
from labctl.paths import cache_root, read_versions  # noqa: E402
from labctl.pki import ADMIN_USER  # noqa: E402

TOOLS = ("ours", "core", "helmfile")
# ours remembers a render that matched (helm/render_memo.py): the first rerun renders, the second need not
OPERATIONS = ("first deploy", "unchanged rerun", "second unchanged rerun", "one-value change")
# the one value: a pod label of Grafana, a subchart of kube-prometheus-stack (a rollout of one Deployment)
CHANGE = {"kube_prometheus_stack_values_overrides": {"grafana": {"podLabels": {"bench-change": "1"}}}}
# inventory variables every tool's deploy gets (BENCH_VARS, JSON): the same values for all three
VARS = json.loads(os.environ.get("BENCH_VARS") or "{}")
# the operator's workloads, which helm --wait does not look at (in runs 3-5 they were up when each tool returned)
OPERATOR_KINDS = ("prometheuses", "alertmanagers")

RENDER_PLAY = [{
    "name": "Render the stack's component specs", "hosts": "localhost", "connection": "local",
    "gather_facts": False,
    "roles": [{"role": "homelab.observability.stack", "vars": {"stack_deploy": False}}],
    "post_tasks": [{"name": "Write the specs", "ansible.builtin.copy": {
        "content": "{{ stack_components | to_nice_json }}", "dest": "{{ peers_specs_out }}", "mode": "0600"}}],
}]


def render_specs(tmp: Path, extra: dict | None = None) -> list:
    """The component specs roles/stack builds from inventory/lab (with ``extra`` vars), in wave order."""
    play = tmp / "render.yml"
    play.write_text(yaml.safe_dump(RENDER_PLAY, sort_keys=False))
    out = tmp / ("specs-%s.json" % uuid.uuid4().hex[:6])
    env = os.environ | {"ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
                        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "LAB_DIR": str(tmp / "no-lab")}
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "inventory/lab", str(play),
           "-e", json.dumps({"peers_specs_out": str(out), **(extra or {})})]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("bench_peers: rendering the specs failed:\n%s" % proc.stdout[-3000:])
    print("  rendering the specs alone (roles/stack, stack_deploy false): %.1f s" % (time.monotonic() - t0), flush=True)
    return sorted(json.loads(out.read_text()), key=lambda c: c.get("wave", 0))


def playbook_floor(tmp: Path) -> float:
    """Wall seconds of ansible-playbook running one debug task on localhost: what any playbook pays."""
    play = tmp / "floor.yml"
    play.write_text(yaml.safe_dump([{"name": "floor", "hosts": "localhost", "connection": "local",
                                     "gather_facts": False, "tasks": [{"ansible.builtin.debug": {"msg": "x"}}]}]))
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", str(play)]
    best = None
    for _ in range(3):
        t0 = time.monotonic()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        best = min(best or 1e9, time.monotonic() - t0)
    print("  ansible-playbook with one debug task (fastest of 3): %.1f s" % best, flush=True)
    return best


def changed_values(before: list, after: list) -> list:
    """The names of the specs whose values differ (the change must touch one release)."""
    return [a["name"] for a, b in zip(before, after, strict=True) if a != b]


def chart_of(spec: dict, charts: Path) -> str:
    """The chart a peer installs: the pinned archive in the mirror, or a chart made of the spec's manifests
    (kept in files/ and emitted as they are, so the dashboards' own {{ }} are not templated)."""
    if spec.get("chart"):
        chart = spec["chart"]
        return str(Path(spec["chart_mirror"]) / ("%s-%s.tgz" % (chart["ref"], chart["version"])))
    path = charts / spec["name"]
    (path / "files").mkdir(parents=True, exist_ok=True)
    (path / "templates").mkdir(exist_ok=True)
    (path / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": spec["name"], "version": "0.1.0"}))
    (path / "files" / "manifests.yaml").write_text(yaml.safe_dump_all(spec["manifests"], sort_keys=False))
    (path / "templates" / "manifests.yaml").write_text('{{ .Files.Get "files/manifests.yaml" }}\n')
    return str(path)


def values_file(spec: dict, tmp: Path) -> str:
    """The spec's values as a file: they hold Alertmanager's and Loki's own {{ }}, which Ansible would template."""
    path = tmp / ("values-%s.yaml" % spec["name"])
    path.write_text(yaml.safe_dump(spec.get("values") or {}))
    return str(path)


def core_playbook(specs: list, kubeconfig: str, helm: str, tmp: Path) -> Path:
    tasks = [{"name": s["name"], "kubernetes.core.helm": {
        "name": s["name"], "chart_ref": chart_of(s, tmp / "charts"), "release_namespace": s["namespace"],
        "create_namespace": s.get("create_namespace", True), "values_files": [values_file(s, tmp)],
        "wait": True, "wait_timeout": "%ds" % s.get("wait_timeout", 300), "binary_path": helm,
        "kubeconfig": kubeconfig}} for s in specs]
    path = tmp / "core.yml"
    path.write_text(yaml.safe_dump([{"name": "core", "hosts": "localhost", "gather_facts": False, "tasks": tasks}],
                                   sort_keys=False))
    return path


def helmfile_yaml(specs: list, tmp: Path) -> Path:
    """Each release needs every release of the wave before it: helmfile runs a wave's releases in parallel."""
    waves = sorted({s.get("wave", 0) for s in specs})
    releases = []
    for spec in specs:
        index = waves.index(spec.get("wave", 0))
        before = [s for s in specs if index and s.get("wave", 0) == waves[index - 1]]
        releases.append({"name": spec["name"], "namespace": spec["namespace"],
                         "chart": chart_of(spec, tmp / "charts"),
                         "createNamespace": spec.get("create_namespace", True),
                         "timeout": spec.get("wait_timeout", 300), "values": [values_file(spec, tmp)],
                         "needs": ["%s/%s" % (s["namespace"], s["name"]) for s in before]})
    path = tmp / "helmfile.yaml"
    path.write_text(yaml.safe_dump({"helmDefaults": {"wait": True}, "releases": releases}, sort_keys=False))
    return path


def run_helmfile(path: Path, kubeconfig: str, helm: str) -> tuple[float, str]:
    binary = cache_root() / "bin" / ("helmfile-%s" % read_versions()["HELMFILE_VERSION"]) / "helmfile"
    if not binary.exists():
        return 0.0, "no %s: run `bash tools/lab/build.sh helmfile`" % binary
    t0 = time.monotonic()
    proc = subprocess.run([str(binary), "--helm-binary", helm, "--file", str(path), "sync", "--skip-deps"],
                          env=os.environ | {"KUBECONFIG": kubeconfig}, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - t0
    return elapsed, "" if proc.returncode == 0 else "rc %d: %s" % (proc.returncode, proc.stderr[-1500:])


def critical_path(result: dict) -> float:
    """The sum over waves of the slowest component (of a run that deployed each component alone)."""
    slowest: dict = {}
    for row in result.get("timing_table", []):
        slowest[row["wave"]] = max(slowest.get(row["wave"], 0.0), row.get("duration") or 0.0)
    return sum(slowest.values())


def available(obj: dict) -> bool:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    return any(c.get("type") == "Available" and c.get("status") == "True"
               and c.get("observedGeneration", meta.get("generation")) == meta.get("generation")
               for c in status.get("conditions") or [])


def operator_ready(lab: Lab, t0: float, timeout: float = 300.0) -> float | None:
    """Seconds from ``t0`` until every Prometheus and Alertmanager is Available (None: not within timeout)."""
    api = lab.api(timeout=10)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            items = [o for plural in OPERATOR_KINDS
                     for o in api.get("/apis/monitoring.coreos.com/v1/%s" % plural).get("items", [])]
        except ApiError:
            items = []
        if items and all(available(o) for o in items):
            return time.monotonic() - t0
        time.sleep(0.25)
    return None


def phases_table(result: dict) -> None:
    rows = [[r["wave"], r["component"], "%.1f" % (r.get("duration") or 0)]
            + ["%.1f" % (r.get("phases") or {}).get(p, 0.0) for p in ("plan", "apply", "wait")]
            for r in result.get("timing_table", [])]
    table("ours, first deploy: seconds per component", ["wave", "component", "total", "plan", "apply", "wait"], rows)


def writes(lab: Lab, since) -> tuple[int, str]:
    time.sleep(0.5)  # the audit log's batch
    events = list(audit.events(Path(lab.info()["audit_log"]), since, ADMIN_USER, audit.WRITE_VERBS))
    by = collections.Counter("%s %s" % (e["verb"], (e.get("objectRef") or {}).get("resource")) for e in events)
    return len(events), ", ".join("%s %d" % kv for kv in by.most_common(4))


def run_ours(lab: Lab, env: dict, change: bool, first: bool = False) -> dict:
    rc, result, _stats, wall = deploy(env, VARS | CHANGE if change else VARS or None)
    if first:
        phases_table(result)
    module = sum(w["duration"] for w in result.get("waves", []))
    return {"wall": wall, "error": "" if rc == 0 else str(result.get("msg"))[:500], "inside": module}


def run_core(lab: Lab, specs: list, kubeconfig: str, helm: str, tmp: Path) -> dict:
    try:
        wall, inside, _results = run_playbook(core_playbook(specs, kubeconfig, helm, tmp))
    except SystemExit as exc:
        return {"wall": 0.0, "inside": 0.0, "error": str(exc)[-1500:]}
    return {"wall": wall, "inside": inside, "error": ""}


def alone() -> dict:
    """The critical path: ours on a fresh lab with stack_max_parallel 1 (each component alone), first deploy."""
    lab, env = fresh_lab("alone")
    try:
        rc, result, _stats, wall = deploy(env, VARS | {"stack_max_parallel": 1})
    finally:
        close_lab(lab)
    if rc != 0:
        return {"critical": 0.0, "error": str(result.get("msg"))[:500]}
    print("  alone (stack_max_parallel 1), first deploy: %.1f s, critical path %.1f s"
          % (wall, critical_path(result)), flush=True)
    return {"critical": critical_path(result), "error": "", "wall": wall}


def fresh_lab(tool: str) -> tuple[Lab, dict]:
    lab_dir = Path(tempfile.mkdtemp(prefix="peers-lab-%s-" % tool, dir="/tmp"))
    os.environ["LAB_DIR"] = str(lab_dir)
    lab = Lab.discover()
    lab.up(owner="bench")
    # a cache of remembered renders as new as the lab: no verdict of an earlier run spares a render
    return lab, os.environ | {"KUBECONFIG": str(lab.paths.kubeconfig), "LAB_DIR": str(lab_dir),
                              "HOMELAB_OBSERVABILITY_CACHE_HOME": str(lab_dir / "render-cache")}


def close_lab(lab: Lab) -> None:
    lab.down()
    shutil.rmtree(os.environ["LAB_DIR"], ignore_errors=True)
    os.environ.pop("LAB_DIR", None)


def run_tool(tool: str, specs: dict, tmp: Path) -> dict:
    """The three operations of one tool on a lab of its own: {operation: measures}."""
    lab, env = fresh_lab(tool)
    kubeconfig, helm = str(lab.paths.kubeconfig), str(lab.bins.helm3)
    out = {}
    try:
        for op in OPERATIONS:
            these = specs["changed" if op == "one-value change" else "default"]
            work = tmp / ("%s-%s" % (tool, op.replace(" ", "-")))
            work.mkdir()
            since = datetime.datetime.now(datetime.UTC)
            t0 = time.monotonic()
            if tool == "ours":
                measured = run_ours(lab, env, op == "one-value change", first=op == OPERATIONS[0])
            elif tool == "core":
                measured = run_core(lab, these, kubeconfig, helm, work)
            else:
                wall, error = run_helmfile(helmfile_yaml(these, work), kubeconfig, helm)
                measured = {"wall": wall, "inside": wall, "error": error}
            measured["ready"] = operator_ready(lab, t0) if not measured["error"] else None
            measured["writes"], measured["by"] = writes(lab, since)
            out[op] = measured
            print("  %s, %s: %.1f s (inside %.1f s, operator's workloads Available at %s s), %d writes %s"
                  % (tool, op, measured["wall"], measured["inside"], fmt(measured["ready"]), measured["writes"],
                     measured["error"][:300]), flush=True)
    finally:
        close_lab(lab)
    return out


def fmt(value: float | None) -> str:
    return "-" if value is None else "%.1f" % value


def spread(values: list) -> str:
    if len(values) == 1:
        return "%.1f" % values[0]
    return "%.1f (%.1f-%.1f)" % (statistics.mean(values), min(values), max(values))


def report(runs: list, path: dict | None) -> None:
    rows = []
    for op in OPERATIONS:
        for tool in [t for t in TOOLS if t in runs[0]]:
            got = [r[tool][op] for r in runs]
            ready = [g["ready"] for g in got if g.get("ready") is not None]
            rows.append([op, tool, spread([g["wall"] for g in got]), spread([g["inside"] for g in got]),
                         spread(ready) if ready else "-", spread([g["writes"] for g in got]), got[-1]["by"],
                         "FAILED" if any(g["error"] for g in got) else ""])
    table("Real stack, %d run(s): seconds as mean (min-max); writes = admin write requests in the audit log"
          % len(runs), ["operation", "tool", "wall s", "inside the tool s", "Prometheus+Alertmanager Available s",
                        "writes", "writes by verb/resource (last run)", ""], rows)
    ratio_rows = []
    for op in OPERATIONS:
        for peer in [t for t in ("core", "helmfile") if t in runs[0] and "ours" in runs[0]]:
            ratios = [r["ours"][op]["wall"] / r[peer][op]["wall"] for r in runs if r[peer][op]["wall"]]
            ratio_rows.append([op, "ours/%s" % peer, " ".join("%.2f" % x for x in ratios)])
    table("Ratios per run (wall time)", ["operation", "ratio", "per run"], ratio_rows)
    if path and path.get("critical") and "ours" in runs[0]:
        first = [r["ours"][OPERATIONS[0]]["inside"] / path["critical"] for r in runs]
        print("critical path (each component alone, its own lab): %.1f s; ours' first deploy, module / critical "
              "path: %s" % (path["critical"], " ".join("%.2f" % x for x in first)))
    elif path:
        print("critical path: not measured: %s" % path.get("error"))


def main() -> int:
    ensure_link()
    count = int(os.environ.get("BENCH_RUNS", "1"))
    tools = [t for t in os.environ.get("BENCH_TOOLS", ",".join(TOOLS)).split(",") if t in TOOLS]
    with tempfile.TemporaryDirectory(prefix="peers-work-") as tmpdir:
        tmp = Path(tmpdir)
        playbook_floor(tmp)
        specs = {"default": render_specs(tmp, VARS), "changed": render_specs(tmp, VARS | CHANGE)}
        print("bench_peers: %d components; the change touches %s" % (
            len(specs["default"]), changed_values(specs["default"], specs["changed"])), flush=True)
        runs = []
        for index in range(count):
            order = tools if index % 2 == 0 else tools[::-1]
            run = {}
            for tool in order:
                work = tmp / ("run%d" % index)
                work.mkdir(exist_ok=True)
                run[tool] = run_tool(tool, specs, work)
            runs.append(run)
        path = alone() if os.environ.get("BENCH_ALONE", "1") != "0" else None
        report(runs, path)
    print("load: %s" % subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
