"""The lab's stand-in servers (tools/lab/images) answer, over loopback, the endpoints the
collection's verify modules call (plugins/module_utils/probes), from what the pod would mount."""

import base64
import json
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from standin_servers import FakeKube, Running, get  # noqa: E402

from tests.fakes.ports import free_port  # noqa: E402

# kube-prometheus-stack's provisioned datasources file, as its sidecar writes it (the rendered chart)
DATASOURCES = """apiVersion: 1
datasources:
- name: "Prometheus"
  type: prometheus
  uid: prometheus
  url: http://127.0.0.1:{dead}/
  access: proxy
  isDefault: true
  jsonData:
    httpMethod: POST
    timeInterval: 30s
- access: proxy
  editable: false
  isDefault: false
  name: Loki
  type: loki
  uid: loki
  url: http://127.0.0.1:{loki}
"""


@pytest.fixture
def running():
    started = []

    def start(*args, **kwargs):
        server = Running(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _loki(tmp_path, running):
    port = free_port()
    config = tmp_path / "loki.yaml"
    config.write_text("server:\n  http_listen_port: %d\nauth_enabled: false\n" % port)
    running("loki", ["-config.file=%s" % config, "-target=all", "-unknown.flag=x"], port=port)
    return "http://127.0.0.1:%d" % port, config


def _q(base, path, **params):
    status, _, body = get(base + path + "?" + urllib.parse.urlencode(params, doseq=True))
    assert status == 200, body
    return json.loads(body)


def test_loki_keeps_pushes_and_answers_series_and_filtered_queries(tmp_path, running):
    base, config = _loki(tmp_path, running)
    assert get(base + "/ready")[0] == 200
    assert get(base + "/config")[2] == config.read_text()
    now = time.time_ns()
    streams = [{"stream": {"job": "kubernetes-audit", "verb": "create"}, "values": [[str(now), "audit-id-42 x"]]},
               {"stream": {"namespace": "arr", "pod": "p"}, "values": [[str(now), "hello"]]}]
    status, _, body = get(base + "/loki/api/v1/push", json.dumps({"streams": streams}).encode(),
                          {"Content-Type": "application/json"})
    assert status == 204, body
    window = {"start": now - 10**9, "end": now + 10**9}
    series = _q(base, "/loki/api/v1/series", **{"match[]": '{namespace=~".+"}'}, **window)["data"]
    assert series == [{"namespace": "arr", "pod": "p"}]
    found = _q(base, "/loki/api/v1/query_range", query='{job="kubernetes-audit"} |= "audit-id-42"', **window)
    assert found["data"]["resultType"] == "streams"
    assert found["data"]["result"][0]["values"][0][1] == "audit-id-42 x"
    missing = _q(base, "/loki/api/v1/query_range", query='{job="kubernetes-audit"} |= "other"', **window)
    assert missing["data"]["result"] == []
    assert 'lab_standin_info{component="loki"} 1' in get(base + "/metrics")[2]


def test_alloy_ships_redacted_audit_events_and_pod_logs_as_the_config_says(tmp_path, running):
    base, _ = _loki(tmp_path, running)
    audit = tmp_path / "audit.log"
    audit.write_text("")
    pods = tmp_path / "pods" / "arr_sonarr-0_uid" / "sonarr"
    pods.mkdir(parents=True)
    (pods / "0.log").write_text("2026-12-03T00:00:00Z stdout F started\n")
    config = tmp_path / "config.alloy"
    config.write_text(
        'loki.source.file "pod_logs" {}\nlocal.file_match "audit" {\n  path_targets = [{\n'
        '    "__path__" = "%s",\n  }]\n}\nloki.process "audit" {\n  stage.replace {\n'
        '    expression = `"(?:data|stringData)":(\\{[^}]*\\})`\n    replace    = "<redacted>"\n  }\n'
        '  stage.json {\n    expressions = {\n      verb = "verb",\n      user = "user.username",\n    }\n  }\n}\n'
        'loki.write "default" {\n  endpoint {\n    url = "%s/loki/api/v1/push"\n  }\n}\n' % (audit, base))
    port = free_port()
    running("alloy", ["run", str(config), "--server.http.listen-addr=127.0.0.1:%d" % port, "--stability.level=x"],
            env={"NODE_NAME": "lab-node-1", "LAB_ALLOY_POD_LOGS": str(tmp_path / "pods")}, port=port)
    assert get("http://127.0.0.1:%d/-/ready" % port)[0] == 200
    assert get("http://127.0.0.1:%d/-/reload" % port, b"", method="POST")[0] == 200
    time.sleep(1.5)  # the audit file is followed from its end, as it is when Alloy starts on a node
    plain = {"verb": "create", "user": {"username": "admin"}}
    # redaction runs before parsing (the role's stage order), as in Alloy: the redacted line is no
    # longer JSON, so it gets no labels from it
    secret = {"auditID": "s1", "requestObject": {"data": {"k": "c2VjcmV0"}}}
    with audit.open("a") as f:
        for event in (plain, secret):
            f.write(json.dumps(event, separators=(",", ":")) + "\n")
    deadline = time.monotonic() + 10
    while True:
        result = _q(base, "/loki/api/v1/query_range", query='{job="kubernetes-audit"}')["data"]["result"]
        pod = _q(base, "/loki/api/v1/series", **{"match[]": '{namespace=~".+"}'})["data"]
        streams = [r["stream"] for r in result]
        # the two events may land in either order, as two streams: wait for the labelled one
        if (any("verb" in s for s in streams) and pod) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {"job": "kubernetes-audit", "node": "lab-node-1", "verb": "create", "user": "admin"} in streams, streams
    redacted = _q(base, "/loki/api/v1/query_range", query='{job="kubernetes-audit"} |= "s1"')["data"]["result"]
    line = redacted[0]["values"][0][1]
    assert "c2VjcmV0" not in line and '"data":<redacted>' in line
    assert pod == [{"namespace": "arr", "pod": "sonarr-0", "container": "sonarr", "node": "lab-node-1",
                    "job": "arr/sonarr"}]
    logged = _q(base, "/loki/api/v1/query_range", query='{pod="sonarr-0"}')["data"]["result"]
    assert logged[0]["values"][0][1] == "started"  # the CRI prefix cut off, as stage.cri does


def test_grafana_logs_in_lists_provisioned_datasources_checks_them_and_finds_dashboards(tmp_path, running):
    loki, _ = _loki(tmp_path, running)
    port = free_port()
    (tmp_path / "grafana.ini").write_text("[server]\nhttp_port = %d\n" % port)
    provisioning = tmp_path / "provisioning"
    (provisioning / "datasources").mkdir(parents=True)
    (provisioning / "datasources" / "datasource.yaml").write_text(
        DATASOURCES.format(dead=free_port(), loki=loki.rsplit(":", 1)[1]))
    dashboards = tmp_path / "dashboards"
    dashboards.mkdir()
    (dashboards / "c.json").write_text(json.dumps({"uid": "cap", "title": "Cluster Capacity Overview"}))
    running("grafana", ["--config=%s" % (tmp_path / "grafana.ini")], port=port,
            env={"GF_SECURITY_ADMIN_USER": "admin", "GF_SECURITY_ADMIN_PASSWORD": "pw",
                 "GF_PATHS_PROVISIONING": str(provisioning), "LAB_GRAFANA_DASHBOARDS": str(dashboards)})
    base = "http://127.0.0.1:%d" % port
    assert json.loads(get(base + "/api/health")[2])["database"] == "ok"
    assert get(base + "/api/datasources")[0] == 401
    assert get(base + "/login", json.dumps({"user": "admin", "password": "no"}).encode())[0] == 401
    status, headers, _ = get(base + "/login", json.dumps({"user": "admin", "password": "pw"}).encode())
    assert status == 200
    cookie = {"Cookie": headers["Set-Cookie"].split(";")[0]}
    sources = json.loads(get(base + "/api/datasources", headers=cookie)[2])
    assert [(d["name"], d["type"], d["isDefault"]) for d in sources] == [("Prometheus", "prometheus", True),
                                                                         ("Loki", "loki", False)]
    status, _, body = get(base + "/api/datasources/uid/loki/health", headers=cookie)
    assert status == 200 and json.loads(body)["status"] == "OK"
    status, _, body = get(base + "/api/datasources/uid/prometheus/health", headers=cookie)
    assert status == 400 and json.loads(body)["status"] == "ERROR"
    hits = json.loads(get(base + "/api/search?type=dash-db&query=Cluster%20Capacity", headers=cookie)[2])
    assert hits == [{"uid": "cap", "title": "Cluster Capacity Overview", "type": "dash-db", "uri": "db/cap"}]


def test_uptime_kuma_redirects_to_its_dashboard(running):
    port = free_port()
    running("uptimekuma", env={"UPTIME_KUMA_PORT": str(port)}, port=port)
    status, headers, _ = get("http://127.0.0.1:%d/" % port)
    assert status == 302 and headers["Location"] == "/dashboard"
    assert get("http://127.0.0.1:%d/dashboard" % port)[0] == 200


def test_exportarr_serves_health_and_the_apps_status(tmp_path, running):
    app = free_port()
    running("uptimekuma", env={"UPTIME_KUMA_PORT": str(app)}, port=app)  # any server: 404 on the *arr API
    port = free_port()
    running("exportarr", ["sonarr"], env={"PORT": str(port), "URL": "http://127.0.0.1:%d" % app, "APIKEY": "k"},
            port=port)
    assert get("http://127.0.0.1:%d/healthz" % port)[0] == 200
    assert 'sonarr_system_status{url="http://127.0.0.1:%d"} 0' % app in get("http://127.0.0.1:%d/metrics" % port)[2]


def test_the_sidecar_copies_labelled_configmaps_and_secrets_into_its_folder(tmp_path, running):
    kube = FakeKube(tmp_path)
    try:
        kube.add("/api/v1/namespaces/monitoring/configmaps",
                 {"metadata": {"name": "ds", "namespace": "monitoring", "labels": {"grafana_datasource": "1"}},
                  "data": {"datasource.yaml": "apiVersion: 1\n"}})
        kube.add("/api/v1/namespaces/other/configmaps",
                 {"metadata": {"name": "x", "namespace": "other", "labels": {"grafana_datasource": "1"}},
                  "data": {"other.yaml": "no"}})
        kube.add("/api/v1/namespaces/monitoring/secrets",
                 {"metadata": {"name": "s", "namespace": "monitoring", "labels": {"grafana_datasource": "1"}},
                  "data": {"secret.yaml": base64.b64encode(b"from a secret").decode()}})
        folder = tmp_path / "out"
        folder.mkdir()
        running("k8ssidecar", env={**kube.env, "LABEL": "grafana_datasource", "LABEL_VALUE": "1",
                                   "FOLDER": str(folder), "RESOURCE": "both"})
        deadline = time.monotonic() + 10
        while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        # without NAMESPACE, the pod's own namespace only, as the real sidecar
        assert sorted(p.name for p in folder.iterdir()) == ["datasource.yaml", "secret.yaml"]
        assert (folder / "secret.yaml").read_text() == "from a secret"
    finally:
        kube.stop()


def test_the_goldilocks_controller_gives_each_workload_an_off_vpa(tmp_path, running):
    kube = FakeKube(tmp_path, namespace="goldilocks")
    try:
        for ns in ("arr", "kube-public"):
            kube.add("/api/v1/namespaces", {"metadata": {"name": ns}})
        kube.add("/api/v1/namespaces", {"metadata": {"name": "off", "labels": {
            "goldilocks.fairwinds.com/enabled": "false"}}})
        for ns in ("arr", "kube-public", "off"):
            kube.add("/apis/apps/v1/namespaces/%s/deployments" % ns, {"metadata": {"name": "web", "namespace": ns}})
        kube.add("/apis/apps/v1/namespaces/arr/statefulsets", {"metadata": {"name": "db", "namespace": "arr"}})
        running("goldilocks", ["controller", "-v2", "--exclude-namespaces=kube-node-lease,kube-public",
                               "--on-by-default=true"], env=kube.env)
        prefix = "/apis/autoscaling.k8s.io/v1/namespaces/"
        deadline = time.monotonic() + 10
        while len([k for k in kube.objects if k.startswith(prefix)]) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        vpas = {k: v for k, v in kube.objects.items() if k.startswith(prefix)}
        assert sorted(vpas) == [prefix + "arr/verticalpodautoscalers/goldilocks-db",
                                prefix + "arr/verticalpodautoscalers/goldilocks-web"]
        vpa = vpas[prefix + "arr/verticalpodautoscalers/goldilocks-db"]
        assert vpa["spec"] == {"targetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"},
                               "updatePolicy": {"updateMode": "Off"}}
        assert vpa["metadata"]["labels"]["source"] == "goldilocks"
    finally:
        kube.stop()


def test_the_goldilocks_dashboard_answers_its_probe(running):
    port = free_port()
    running("goldilocks", ["dashboard", "--exclude-containers=linkerd-proxy", "-v2", "--port=%d" % port], port=port)
    assert get("http://127.0.0.1:%d/health" % port)[0] == 200


def test_certgen_creates_the_webhook_secret_and_patches_the_ca_into_the_webhooks(tmp_path, running):
    kube = FakeKube(tmp_path)
    hooks = "/apis/admissionregistration.k8s.io/v1/%s"
    try:
        for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            kube.add(hooks % kind, {"metadata": {"name": "kps-admission"},
                                    "webhooks": [{"name": "a", "clientConfig": {"service": {"name": "op"}}}]})
        code, out = running("certgen", ["create", "--host=op,op.monitoring.svc", "--namespace=monitoring",
                                        "--secret-name=kps-admission"], env=kube.env).wait()
        assert code == 0, out
        secret = kube.objects["/api/v1/namespaces/monitoring/secrets/kps-admission"]
        assert set(secret["data"]) == {"ca", "cert", "key"}
        code, out = running("certgen", ["patch", "--webhook-name=kps-admission", "--namespace=monitoring",
                                        "--secret-name=kps-admission", "--patch-failure-policy="],
                            env=kube.env).wait()
        assert code == 0, out
        for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            config = kube.objects[hooks % kind + "/kps-admission"]
            assert config["webhooks"][0]["clientConfig"]["caBundle"] == secret["data"]["ca"]
    finally:
        kube.stop()
