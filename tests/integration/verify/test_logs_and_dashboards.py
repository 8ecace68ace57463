"""Loki and Grafana checks against tests/fakes: local HTTP servers that answer with the documented
API shapes of Loki and Grafana. Loki and Grafana themselves cannot be built or installed here (AGPL
modules are off limits), so these are contract tests of our checks, not tests of Loki or Grafana.

The Loki marker checks use the real lab apiserver: the check writes through the Kubernetes API, the
apiserver writes its real audit log, and the fake Loki follows that log the way Alloy does."""

import base64
import json
import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.probes.grafana import GrafanaClient
from ansible_collections.homelab.observability.plugins.module_utils.probes.loki import LokiClient
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import Response
from ansible_collections.homelab.observability.plugins.module_utils.verify.grafana import run_grafana
from ansible_collections.homelab.observability.plugins.module_utils.verify.loki import AuditProbe, run_loki
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckRunner

from tests.fakes.grafana import FakeGrafana
from tests.fakes.loki import FakeLoki, audit_labels

POD = {"namespace": "monitoring", "pod": "loki-0", "container": "loki", "node": "lab-worker-0",
       "job": "monitoring/loki"}
AUDIT = {"job": "kubernetes-audit", "level": "Metadata", "verb": "create", "user": "kubernetes-admin"}
NO_PROBE = AuditProbe(None, None, "unused")  # for runs whose marker checks are skipped
SKIP_WRITES = {"loki.marker": "not in this test", "loki.redaction": "not in this test"}


def results(runner):
    return {c["name"]: (c["result"], c["reason"]) for c in runner.results}


@pytest.fixture
def fake_loki():
    with FakeLoki() as loki:
        yield loki


@pytest.fixture
def fake_grafana():
    with FakeGrafana(user="admin", password="s3cret-admin") as grafana:
        yield grafana


def loki_client(fake, direct):
    return LokiClient(direct(fake.url))


def test_loki_labels_pass_when_pod_logs_and_the_audit_stream_are_labelled(fake_loki, direct):
    fake_loki.push(POD, "level=info msg=started")
    fake_loki.push(AUDIT, '{"kind":"Event","verb":"create"}')
    runner = CheckRunner(skip=SKIP_WRITES)
    run_loki(runner, loki_client(fake_loki, direct), NO_PROBE)
    got = results(runner)
    assert got["loki.ready"] == ("passed", "ready")
    assert got["loki.pod_labels"] == ("passed", "1 pod log streams, all labelled namespace/pod/container/node")
    assert got["loki.audit_labels"] == ("passed", "1 audit streams, all labelled level/verb/user")
    assert got["loki.marker"][0] == got["loki.redaction"][0] == "skipped"


def test_a_missing_audit_stream_and_a_missing_pod_label_fail_with_the_reason(fake_loki, direct):
    fake_loki.push(dict(POD, node=""), "no node label")
    runner = CheckRunner(skip=SKIP_WRITES)
    run_loki(runner, loki_client(fake_loki, direct), NO_PROBE)
    got = results(runner)
    assert got["loki.pod_labels"][0] == "failed"
    assert "1 of 1 pod log streams lack labels" in got["loki.pod_labels"][1]
    assert "lacks node" in got["loki.pod_labels"][1]
    assert got["loki.audit_labels"] == (
        "failed", 'Loki has no {job="kubernetes-audit"} stream in the last 3600s: the audit log is not shipped')


def test_an_audit_stream_without_the_user_label_fails(fake_loki, direct):
    fake_loki.push(POD, "x")
    fake_loki.push(dict(AUDIT, user=""), "{}")
    runner = CheckRunner(skip=SKIP_WRITES)
    run_loki(runner, loki_client(fake_loki, direct), NO_PROBE)
    assert "lacks user" in results(runner)["loki.audit_labels"][1]


def test_loki_not_ready_fails_and_stops_the_dependent_checks(fake_loki, direct):
    fake_loki.ready = False
    runner = CheckRunner()
    run_loki(runner, loki_client(fake_loki, direct), NO_PROBE, check_mode=True)
    got = results(runner)
    assert got["loki.ready"][0] == "failed" and "HTTP 503" in got["loki.ready"][1]
    assert got["loki.marker"][1].startswith("not checked: loki.ready failed")


def test_the_marker_writes_are_skipped_in_check_mode(fake_loki, direct):
    runner = CheckRunner()
    run_loki(runner, loki_client(fake_loki, direct), NO_PROBE, check_mode=True)
    got = results(runner)
    assert got["loki.marker"] == ("skipped", "check mode: the marker ConfigMap was not written, so nothing to "
                                             "look for in Loki")
    assert got["loki.redaction"][0] == "skipped"


@pytest.mark.lab
def test_the_marker_configmap_write_is_found_in_loki_through_the_real_audit_log(
        lab, fake_loki, direct, lab_apiserver):
    fake_loki.tail_audit_log(str(lab.audit_log_path), redact=True)
    fake_loki.push(POD, "x")
    ns = "verify-marker-test"
    lab_apiserver.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    probe = AuditProbe(loki_client(fake_loki, direct), lambda: lab_apiserver, ns, timeout=20)
    runner = CheckRunner()
    run_loki(runner, loki_client(fake_loki, direct), probe)
    got = results(runner)
    assert got["loki.marker"][0] == "passed", got["loki.marker"]
    assert "verb=create, user=kubernetes-admin" in got["loki.marker"][1]
    # the lab's default audit policy logs Secret writes at Metadata, so no value could leak here;
    # what this proves is that the Secret's event is shipped and searched (the leak case is below)
    assert got["loki.redaction"][0] == "passed", got["loki.redaction"]
    # the markers are gone again
    for resource in ("configmaps", "secrets"):
        items = lab_apiserver.request("GET", "/api/v1/namespaces/%s/%s" % (ns, resource),
                                      {"labelSelector": "homelab.observability/verify-marker"}).json()["items"]
        assert items == []


@pytest.mark.lab
def test_the_marker_fails_when_the_audit_log_is_not_shipped(lab, fake_loki, direct, lab_apiserver):
    ns = "verify-marker-test"
    lab_apiserver.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    probe = AuditProbe(loki_client(fake_loki, direct), lambda: lab_apiserver, ns, timeout=2)
    runner = CheckRunner()
    runner.run("loki.marker", probe.marker, False)
    result, reason = runner.results[0]["result"], runner.results[0]["reason"]
    assert result == "failed"
    assert "did not reach Loki's {job=\"kubernetes-audit\"} within 2s" in reason
    assert "(Audit-Id " in reason


class EchoApiserver:
    """Stands in for an apiserver whose policy logs Secret writes at RequestResponse and an Alloy
    that ships them unredacted: every create is written to the fake Loki as a full audit event."""

    def __init__(self, loki):
        self.loki = loki
        self.count = 0

    def request(self, method, path, params=None, body=None, headers=None):
        self.count += 1
        audit_id = "00000000-0000-4000-8000-%012d" % self.count
        if method == "POST":
            response = dict(body)
            if "stringData" in response:
                response["data"] = {k: base64.b64encode(v.encode()).decode()
                                    for k, v in response.pop("stringData").items()}
            event = {"kind": "Event", "level": "RequestResponse", "auditID": audit_id, "verb": "create",
                     "user": {"username": "kubernetes-admin"}, "objectRef": {"resource": path.rsplit("/", 1)[1]},
                     "requestObject": body, "responseObject": response}
            self.loki.push(audit_labels(event), json.dumps(event))
            return Response(201, json.dumps(response), {"Audit-Id": audit_id})
        return Response(200, "{}", {"Audit-Id": audit_id})


def test_redaction_fails_when_the_secret_value_reaches_loki(fake_loki, direct):
    probe = AuditProbe(loki_client(fake_loki, direct), lambda: EchoApiserver(fake_loki), "monitoring", timeout=5)
    runner = CheckRunner()
    runner.run("loki.redaction", probe.redaction, False)
    result, reason = runner.results[0]["result"], runner.results[0]["reason"]
    assert result == "failed"
    assert "appears in Loki's audit stream: plain (1 stream), base64 (1 stream)" in reason
    # the value itself is never part of the reason
    assert "verify-" not in reason.split("Secret ")[1].split(" appears")[0].replace("verify-redaction-", "")


def test_grafana_checks_pass_with_the_admin_credentials(fake_grafana, direct):
    runner = CheckRunner()
    run_grafana(runner, GrafanaClient(direct(fake_grafana.url)), lambda: ("admin", "s3cret-admin"), "a test",
                datasources=[{"name": "Prometheus", "type": "prometheus", "is_default": True},
                             {"name": "Loki", "type": "loki"}],
                dashboards=["Cluster Capacity Overview", "Namespace Resource Breakdown"])
    assert {c["name"]: c["result"] for c in runner.results} == {
        "grafana.health": "passed", "grafana.login": "passed", "grafana.datasource.Prometheus": "passed",
        "grafana.datasource.Loki": "passed", "grafana.dashboard.Cluster Capacity Overview": "passed",
        "grafana.dashboard.Namespace Resource Breakdown": "passed"}, runner.results


def test_an_unhealthy_datasource_and_a_missing_dashboard_fail_with_the_reason(fake_grafana, direct):
    fake_grafana.health["loki"] = (False, "Unable to connect with Loki. Please check the server logs for more details.")
    fake_grafana.dashboards = [d for d in fake_grafana.dashboards if d["title"] != "Namespace Resource Breakdown"]
    runner = CheckRunner()
    run_grafana(runner, GrafanaClient(direct(fake_grafana.url)), lambda: ("admin", "s3cret-admin"), "a test",
                datasources=[{"name": "Loki", "type": "loki"}],
                dashboards=["Namespace Resource Breakdown"])
    got = results(runner)
    assert got["grafana.datasource.Loki"] == (
        "failed", "Grafana's health check of datasource 'Loki' failed: Unable to connect with Loki. Please check "
                  "the server logs for more details.")
    assert got["grafana.dashboard.Namespace Resource Breakdown"] == (
        "failed", "Grafana has no dashboard titled 'Namespace Resource Breakdown'")


def test_a_wrong_default_datasource_and_a_wrong_password_fail(fake_grafana, direct):
    fake_grafana.datasources[0]["isDefault"] = False
    fake_grafana.datasources[1]["isDefault"] = True
    runner = CheckRunner()
    run_grafana(runner, GrafanaClient(direct(fake_grafana.url)), lambda: ("admin", "s3cret-admin"), "a test",
                datasources=[{"name": "Prometheus", "type": "prometheus", "is_default": True}])
    assert results(runner)["grafana.datasource.Prometheus"] == (
        "failed", "datasource 'Prometheus' is not the default (the default is 'Loki')")
    runner = CheckRunner()
    run_grafana(runner, GrafanaClient(direct(fake_grafana.url)), lambda: ("admin", "wrong"), "Secret m/grafana-admin",
                datasources=[{"name": "Prometheus"}])
    got = results(runner)
    assert got["grafana.login"] == ("failed", "Grafana refused the login (HTTP 401) with the admin credentials from "
                                              "Secret m/grafana-admin")
    assert got["grafana.datasource.Prometheus"][1].startswith("not checked: grafana.login failed")


def test_grafana_api_without_login_is_refused_by_the_fake(fake_grafana, direct):
    """The fake enforces the session like Grafana, so a check that forgot to log in would fail."""
    resp = direct(fake_grafana.url).request("GET", "/api/datasources")
    assert resp.status == 401


def test_time_budget_of_the_fake_backed_checks(fake_loki, fake_grafana, direct):
    fake_loki.push(POD, "x")
    fake_loki.push(AUDIT, "{}")
    start = time.monotonic()
    run_loki(CheckRunner(skip=SKIP_WRITES), loki_client(fake_loki, direct), NO_PROBE)
    run_grafana(CheckRunner(), GrafanaClient(direct(fake_grafana.url)), lambda: ("admin", "s3cret-admin"), "t",
                datasources=[{"name": "Prometheus"}, {"name": "Loki"}], dashboards=["Cluster Capacity Overview"])
    assert time.monotonic() - start < 2


def test_loki_retention_is_read_from_the_running_configuration(fake_loki, direct):
    runner = CheckRunner(skip=SKIP_WRITES)
    run_loki(runner, loki_client(fake_loki, direct), NO_PROBE, retention="168h")
    assert results(runner)["loki.retention"] == (
        "passed", "limits_config.retention_period 1w (expected 168h), compactor retention on, delete requests in "
                  "filesystem")
    fake_loki.config = "limits_config:\n  retention_period: 24h\ncompactor:\n  retention_enabled: false\n"
    runner = CheckRunner(skip=SKIP_WRITES)
    run_loki(runner, loki_client(fake_loki, direct), NO_PROBE, retention="7d")
    assert results(runner)["loki.retention"] == ("failed", (
        "limits_config.retention_period is 24h, expected 7d; compactor.retention_enabled is false: the compactor "
        "deletes nothing, so the volume fills up; compactor.delete_request_store is empty: Loki 3 does not run "
        "retention without it"))
    runner = CheckRunner(skip=SKIP_WRITES)
    run_loki(runner, loki_client(fake_loki, direct), NO_PROBE)
    assert "loki.retention" not in results(runner)
