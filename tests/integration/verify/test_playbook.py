"""playbooks/verify.yml end to end: ansible-playbook runs role verify and its modules against the
real Prometheus/Alertmanager/node-exporter (tools/lab/monitoring), the lab apiserver, and the
tests/fakes stand-ins for Loki and Grafana (documented API shapes; the real ones cannot be built
here). Prints the wall time of each run."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.fakes.base import StaticServer
from tests.fakes.grafana import FakeGrafana
from tests.fakes.loki import FakeLoki

from .conftest import DOWN_JOB, ROOT

SIMULATED = {
    "loki": "the lab simulates Loki's pod (kwok): nothing serves its API",
    "grafana": "the lab simulates Grafana's pod (kwok): nothing serves its API",
    "vpa": "the lab simulates Goldilocks and the VPA recommender (kwok): they create no VPA objects",
    "http": "the lab simulates the Uptime Kuma and Exportarr pods (kwok)",
}


def lab_vars(metrics, report_dir, **extra):
    data = {
        "verify_report_dir": str(report_dir),
        "verify_prometheus_access": {"url": metrics.prometheus_url},
        "verify_alertmanager_access": {"url": metrics.alertmanager_url},
        "verify_prometheus_jobs": [{"name": "node-exporter", "job": "node-exporter"},
                                   {"name": "prometheus", "job": "prometheus"},
                                   {"name": "alertmanager", "job": "alertmanager"}],
        "verify_exportarr_targets": [],
        "verify_prometheus_wait_timeout": 10,
        "verify_skip": dict(SIMULATED),
    }
    data.update(extra)
    return data


def play(ansible_playbook, tmp_path, variables, env=None, check=False):
    (tmp_path / "vars.yml").write_text(yaml.safe_dump(variables))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": str(Path(ansible_playbook).parent / "python")}}}}))
    environ = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"), ANSIBLE_NOCOLOR="1",
                   **(env or {}))
    cmd = [ansible_playbook, "-i", str(tmp_path / "hosts.yml"), str(ROOT / "playbooks" / "verify.yml"),
           "-e", "@" + str(tmp_path / "vars.yml")] + (["--check"] if check else [])
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=environ, timeout=300, check=False)
    elapsed = time.monotonic() - start
    print("verify.yml wall time: %.2fs (rc=%d)" % (elapsed, proc.returncode))
    return proc, elapsed


def report(report_dir):
    return json.loads((Path(report_dir) / "report.json").read_text())


def test_lab_shaped_run_passes_and_reports_simulated_parts_as_skipped(metrics, ansible_playbook, tmp_path):
    proc, elapsed = play(ansible_playbook, tmp_path, lab_vars(metrics, tmp_path / "report"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    doc = report(tmp_path / "report")
    assert doc["passed"] is True
    by = {c["name"]: c for c in doc["checks"]}
    assert by["prometheus.targets.node-exporter"]["result"] == "passed"
    assert by["alertmanager.discovered"]["result"] == "passed"
    assert (by["prometheus.alerts"]["result"], by["prometheus.alerts"]["reason"]) == (
        "passed", "no alert firing but Watchdog; 0 pending")
    for name, check in by.items():
        group = name.split(".")[0]
        if group in SIMULATED:
            assert (check["result"], check["reason"]) == ("skipped", SIMULATED[group])
    assert "CHECK" in proc.stdout and "checks:" in proc.stdout
    assert (tmp_path / "report" / "report.md").read_text().startswith("# homelab.observability stack verification")
    assert elapsed < 30  # goal: < 15 s on an idle machine (2-5 s measured); room for a loaded host


def test_failed_checks_fail_the_play_after_every_check_ran(metrics, ansible_playbook, tmp_path):
    # the Watchdog fires in the lab's Prometheus: not allowed here, it must fail prometheus.alerts
    variables = lab_vars(metrics, tmp_path / "report", verify_prometheus_retention="30d",
                         verify_prometheus_allowed_firing_alerts=[])
    variables["verify_prometheus_jobs"].append({"name": DOWN_JOB, "job": DOWN_JOB})
    proc = play(ansible_playbook, tmp_path, variables)[0]
    assert proc.returncode != 0
    out = proc.stdout
    assert "3 of 29 checks failed" in out, out[-3000:]
    assert "prometheus.retention: --storage.tsdb.retention.time is 15d, expected 30d" in out
    assert "prometheus.targets.down-exporter: 1 of 1 targets" in out
    assert "prometheus.alerts: 1 alert firing: Watchdog" in out
    doc = report(tmp_path / "report")
    results = [c["result"] for c in doc["checks"]]
    assert results.count("failed") == 3 and doc["passed"] is False
    # the checks after the failures ran too
    assert {c["name"]: c["result"] for c in doc["checks"]}["alertmanager.discovered"] == "passed"


@pytest.mark.lab
def test_every_check_wired_to_real_parts_or_stand_ins(lab, metrics, lab_apiserver, ansible_playbook, tmp_path):
    """All groups run: Prometheus and Alertmanager real, the Loki marker through the lab apiserver's
    real audit log followed by the fake Loki, Grafana's admin password from a real Secret, Uptime
    Kuma as a static stand-in, an Exportarr-like /metrics from the real node-exporter. VPA runs
    against the lab but limited to a namespace of its own is not possible cluster-wide, so it is
    covered by test_vpa.py and skipped here."""
    ns = "verify-playbook"
    lab_apiserver.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    lab_apiserver.request("DELETE", "/api/v1/namespaces/%s/secrets/grafana-admin" % ns)
    lab_apiserver.request("POST", "/api/v1/namespaces/%s/secrets" % ns, body={
        "metadata": {"name": "grafana-admin"},
        "stringData": {"admin-user": "admin", "admin-password": "pw-from-secret"}})
    with FakeLoki() as loki, FakeGrafana(user="admin", password="pw-from-secret") as grafana, \
            StaticServer({"/": (302, "", {"Location": "/dashboard"})}) as kuma:
        loki.tail_audit_log(str(lab.audit_log_path))
        loki.push({"namespace": ns, "pod": "p", "container": "c", "node": "n", "job": ns + "/p"}, "hello")
        loki.push({"job": "kubernetes-audit", "level": "Metadata", "verb": "get", "user": "u"}, "{}")
        variables = lab_vars(
            metrics, tmp_path / "report",
            verify_k8s_auth={"kubeconfig": str(lab.kubeconfig)},
            verify_loki_access={"url": loki.url}, verify_loki_marker_namespace=ns, verify_loki_marker_timeout=20,
            verify_grafana_access={"url": grafana.url},
            verify_grafana_admin_secret={"namespace": ns, "name": "grafana-admin"},
            verify_uptime_kuma={"name": "uptime-kuma", "url": kuma.url, "status": [200, 302]},
            verify_http_endpoints=[{"name": "exporter-metrics", "url": metrics.node_exporter_url, "path": "/metrics",
                                    "contains": "node_"}],
            verify_skip={"vpa": "covered by test_vpa.py (the lab is shared by other tests' workloads)"},
        )
        proc, elapsed = play(ansible_playbook, tmp_path, variables)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "pw-from-secret" not in proc.stdout + proc.stderr
    doc = report(tmp_path / "report")
    by = {c["name"]: c["result"] for c in doc["checks"]}
    assert [n for n, r in by.items() if r != "passed"] == ["vpa.coverage", "vpa.excluded", "vpa.recommendations"]
    assert elapsed < 30  # goal: < 15 s on an idle machine (2-5 s measured); room for a loaded host


def test_check_mode_skips_the_marker_writes_and_the_report(metrics, ansible_playbook, tmp_path):
    with FakeLoki() as loki:
        loki.push({"namespace": "a", "pod": "p", "container": "c", "node": "n"}, "x")
        loki.push({"job": "kubernetes-audit", "level": "Metadata", "verb": "get", "user": "u"}, "{}")
        skip = dict(SIMULATED)
        del skip["loki"]
        proc = play(ansible_playbook, tmp_path, lab_vars(metrics, tmp_path / "report", verify_skip=skip,
                                                         verify_loki_access={"url": loki.url}), check=True)[0]
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "loki.marker" in proc.stdout and "check mode: the marker ConfigMap was not written" in proc.stdout
    assert not (tmp_path / "report").exists()


@pytest.mark.lab
def test_the_lab_run_as_make_lab_does_it(lab, ansible_playbook, tmp_path):
    """What `make lab` ends with: monitoring.lab_up() next to the lab (Prometheus, Alertmanager,
    node-exporter, kube-state-metrics when built, the apiserver's /metrics: all real), then
    verify.yml with the variables it wrote; the simulated parts are skipped with their reason."""
    import monitoring  # noqa: PLC0415 - tools/lab is put on sys.path by conftest

    state = tmp_path / "monitoring"
    stack = monitoring.lab_up(lab.lab_dir, kube_state_metrics_binary=lab.kube_state_metrics, state_dir=state,
                              report_dir=tmp_path / "report")
    try:
        again = monitoring.lab_up(lab.lab_dir, state_dir=state, report_dir=tmp_path / "report")
        assert again.pids == stack.pids  # a second up reuses the running one
        variables = yaml.safe_load((state / "verify-vars.yml").read_text())
        proc, elapsed = play(ansible_playbook, tmp_path, variables,
                             env={"K8S_AUTH_KUBECONFIG": str(lab.kubeconfig)})
    finally:
        stopped = set(monitoring.lab_down(lab.lab_dir, state_dir=state))
        assert stopped >= {"prometheus", "alertmanager", "node_exporter"}
    assert monitoring.lab_status(lab.lab_dir, state_dir=state) == {}
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    doc = report(tmp_path / "report")
    by = {c["name"]: c for c in doc["checks"]}
    for name in ("prometheus.targets.node-exporter", "prometheus.targets.apiserver", "prometheus.retention",
                 "prometheus.rules", "alertmanager.discovered"):
        assert by[name]["result"] == "passed", by[name]
    if Path(lab.kube_state_metrics).exists():
        assert by["prometheus.targets.kube-state-metrics"]["result"] == "passed"
    assert by["prometheus.targets.kubelet"]["result"] == "skipped"
    assert "kwok-simulated" in by["prometheus.targets.kubelet"]["reason"]
    assert all(c["result"] == "skipped" for n, c in by.items() if n.split(".")[0] in ("loki", "grafana", "vpa", "http"))
    assert elapsed < 30  # goal: < 15 s on an idle machine (2-5 s measured); room for a loaded host


def test_groups_skipped_whole_report_the_same_check_names_as_their_modules(ansible_playbook, tmp_path):
    """For a group skipped whole the role does not start the module and lists the check names
    itself (roles/verify/vars/main.yml); they must match what the modules report. The module run
    points every service at a closed local port, so each check fails fast with its name."""
    from monitoring.stack import free_port  # noqa: PLC0415

    dead = "http://127.0.0.1:%d" % free_port()
    common = {
        "verify_prometheus_access": {"url": dead}, "verify_alertmanager_access": {"url": dead},
        "verify_loki_access": {"url": dead}, "verify_grafana_access": {"url": dead},
        "verify_uptime_kuma": {"name": "uptime-kuma", "url": dead},
        "verify_http_endpoints": [{"name": "extra", "url": dead}],
        "verify_prometheus_queries": [{"name": "q1", "expr": "up"}],
        "verify_fail_on_failure": False,
    }
    groups = ["prometheus", "alertmanager", "loki", "grafana", "vpa", "http"]
    env = {"K8S_AUTH_KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    proc = play(ansible_playbook, tmp_path / "a", dict(common, verify_report_dir=str(tmp_path / "ra")), env)[0]
    assert proc.returncode == 0, proc.stdout[-3000:]
    skip = {g: "skipped whole: " + g for g in groups}
    proc = play(ansible_playbook, tmp_path / "b", dict(common, verify_report_dir=str(tmp_path / "rb"),
                                                       verify_skip=skip), env)[0]
    assert proc.returncode == 0, proc.stdout[-3000:]
    ran, synthesized = report(tmp_path / "ra")["checks"], report(tmp_path / "rb")["checks"]
    assert [c["name"] for c in synthesized] == [c["name"] for c in ran]
    assert {c["result"] for c in ran} == {"failed"}
    assert {c["result"] for c in synthesized} == {"skipped"}
    assert all(c["reason"] == "skipped whole: " + c["name"].split(".")[0] for c in synthesized)
