"""The release module on the lab: install, no-op rerun without writes, upgrade, check mode,
diff, failure diagnosis, a chart that fails to render, and a release stuck in pending-upgrade.
Each test runs with helm v3 and v4."""

import base64
import gzip
import json

import pytest
from deploy_helpers import CHARTS, kubectl, writes_in

pytestmark = pytest.mark.lab


@pytest.fixture(params=["v3", "v4"])
def helm(request, helm_paths):
    return helm_paths[request.param]


def chart(name):
    return {"ref": str(CHARTS / name)}


def test_install_noop_upgrade(lab, run, namespace, helm):
    args = {"name": "grafana", "namespace": namespace, "chart": chart("grafana-like"), "binary_path": helm,
            "values": {"replicas": 2}, "wait_timeout": 120}
    first = run("release", args)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] and first["health"] == "Healthy" and first["revision"] == 1
    kinds = {r["kind"]: r["health"]["status"] for r in first["resources"]}
    assert kinds == {"Secret": "Healthy", "ConfigMap": "Healthy", "PersistentVolumeClaim": "Healthy",
                     "Service": "Healthy", "Deployment": "Healthy"}

    since = lab.now()
    again = run("release", args)
    assert not again["changed"] and again["health"] == "Healthy" and again["revision"] == 1
    # a third run with the same inputs skips the render the second one matched (helm/render_memo.py)
    third = run("release", args)
    assert not third["changed"] and "note" not in again["plan"]
    assert "render that matched before" in third["plan"]["note"]
    writes = writes_in(lab, since, namespace)
    assert writes == [], lab.describe(writes)
    # a remembered render does not hide an object deleted out of band
    kubectl(lab, "-n", namespace, "delete", "configmap", "grafana-datasources", "--wait=true")
    repaired = run("release", args)
    assert repaired["changed"] and repaired["revision"] == 2, repaired.get("plan")
    assert "live objects drifted" in " ".join(repaired["plan"]["reasons"])

    since = lab.now()
    upgraded = run("release", dict(args, values={"replicas": 3}))
    assert upgraded["changed"] and upgraded["revision"] == 3 and upgraded["health"] == "Healthy"
    assert "values differ" in upgraded["plan"]["reasons"]
    deployment = next(r for r in upgraded["resources"] if r["kind"] == "Deployment")
    assert deployment["health"]["message"] == "3/3 replicas available"
    assert writes_in(lab, since, namespace)


def test_check_mode_plans_a_redacted_diff_and_writes_nothing(lab, run, namespace, helm):
    args = {"name": "grafana", "namespace": namespace, "chart": chart("grafana-like"), "binary_path": helm,
            "values": {"adminPassword": "first-secret"}}
    since = lab.now()
    planned = run("release", args, check=True, diff=True)
    assert planned["changed"] and not planned.get("failed"), planned.get("msg")
    assert {d["action"] for d in planned["diff"] if d["kind"] != "HelmValues"} == {"create"}
    assert writes_in(lab, since, namespace) == []
    assert run("release", args)["revision"] == 1

    since = lab.now()
    planned = run("release", dict(args, values={"adminPassword": "second-secret"}), check=True, diff=True)
    assert planned["changed"] and planned["revision"] == 1
    # (the task's own arguments are echoed back by Ansible under invocation: not the module's output)
    text = json.dumps({k: v for k, v in planned.items() if k != "invocation"})
    assert "second-secret" not in text and "first-secret" not in text
    secret = next(d for d in planned["diff"] if d["kind"] == "Secret")
    assert secret["action"] == "update"
    assert secret["after"]["stringData"]["admin-password"] == "<redacted, changed>"
    assert secret["after"]["stringData"]["admin-user"] == "<redacted>"
    assert [d["kind"] for d in planned["diff"] if d["action"] == "update"] == ["HelmValues", "Secret"]
    assert writes_in(lab, since, namespace) == []


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("nodeSelector", "didn't match Pod's node affinity/selector"),
        ("storageClass", "names StorageClass 'nfs-does-not-exist', which does not exist"),
    ],
)
def test_failure_is_diagnosed(run, namespace, helm, mode, expect):
    result = run("release", {"name": "stuck", "namespace": namespace, "chart": chart("never-ready"),
                             "binary_path": helm, "values": {"mode": mode}, "wait_timeout": 8})
    assert result.get("failed")
    assert any(expect in line for line in result["diagnosis"]), result["diagnosis"]
    if mode == "storageClass":
        # known at the first poll: the gate does not wait for the timeout
        assert result["health"] == "Degraded" and "failed (waiting cannot fix it)" in result["msg"]
        assert result["timing"]["wait"] < 4
        return
    assert result["health"] == "Progressing"
    assert "not healthy after 8s" in result["msg"]
    headline = "Deployment %s/stuck is Progressing: 0 of 1 updated replicas are available" % namespace
    assert headline in result["diagnosis"]
    assert result["timing"]["wait"] < 12


def test_rollback_on_failure_returns_to_the_last_good_revision(run, namespace, helm):
    base = {"name": "app", "namespace": namespace, "chart": chart("never-ready"), "binary_path": helm,
            "values": {"mode": "none"}}
    assert run("release", base)["health"] == "Healthy"
    failed = run("release", dict(base, values={"mode": "nodeSelector"}, wait_timeout=5, rollback_on_failure=True))
    assert failed.get("failed") and failed["rolled_back_to"] == 1 and "rolled back to revision 1" in failed["msg"]
    after = run("release", base)
    assert not after.get("failed") and after["health"] == "Healthy"


def test_chart_that_fails_to_render(lab, run, namespace, helm):
    since = lab.now()
    result = run("release", {"name": "broken", "namespace": namespace, "chart": chart("broken"), "binary_path": helm})
    assert result.get("failed")
    assert "storage.size is required" in result["msg"]
    assert writes_in(lab, since, namespace) == []


def _forge_pending(lab, namespace, name):
    """What an interrupted `helm upgrade` leaves behind: a newer revision in pending-upgrade."""
    from kubernetes import client  # noqa: PLC0415

    core = client.CoreV1Api(lab.api_client())
    secrets = core.list_namespaced_secret(namespace, label_selector="owner=helm,name=%s" % name).items
    latest = max(secrets, key=lambda s: int(s.metadata.labels["version"]))
    release = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(latest.data["release"]))))
    version = release["version"] + 1
    release.update(version=version)
    release["info"].update(status="pending-upgrade", description="Preparing upgrade")
    blob = base64.b64encode(base64.b64encode(gzip.compress(json.dumps(release).encode()))).decode()
    labels = dict(latest.metadata.labels, status="pending-upgrade", version=str(version))
    core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="sh.helm.release.v1.%s.v%d" % (name, version), labels=labels),
        type="helm.sh/release.v1", data={"release": blob}))
    return version


def test_pending_upgrade_is_reported_then_recovered_on_request(lab, run, namespace, helm):
    args = {"name": "loki", "namespace": namespace, "chart": chart("loki-like"), "binary_path": helm,
            "wait_timeout": 120}
    assert run("release", args)["health"] == "Healthy"
    _forge_pending(lab, namespace, "loki")

    since = lab.now()
    stuck = run("release", dict(args, values={"retention": "24h"}))
    assert stuck.get("failed")
    assert "stuck in pending-upgrade (revision 2)" in stuck["msg"]
    assert "recover_pending=true (to revision 1)" in stuck["msg"]
    assert writes_in(lab, since, namespace) == []

    planned = run("release", dict(args, values={"retention": "24h"}, recover_pending=True), check=True)
    assert planned["changed"] and "release was pending-upgrade" in planned["plan"]["reasons"][0]

    recovered = run("release", dict(args, values={"retention": "24h"}, recover_pending=True))
    assert not recovered.get("failed"), recovered.get("msg")
    assert recovered["health"] == "Healthy" and recovered["revision"] == 4  # 3 = the rollback, 4 = the upgrade
