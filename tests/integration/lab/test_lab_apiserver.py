"""The lab runs kube-apiserver like the kubelet runs a static pod: from the manifest in the host
root, restarted when the Pod in it changes and only then; failures are reported with the
apiserver's own output; the audit log records the admin's writes."""

from __future__ import annotations

import time
import uuid

import pytest
import yaml
from kubernetes import client

pytestmark = pytest.mark.lab


@pytest.fixture
def manifest(lab):
    """The manifest's text; whatever a test does to it, the original is back afterwards."""
    path = lab.apiserver_manifest
    original = path.read_text()
    policy = lab.audit_policy_path.read_text()
    yield path
    lab.audit_policy_path.write_text(policy)
    changed = yaml.safe_load(path.read_text()) != yaml.safe_load(original)
    if path.read_text() != original:
        before = lab.apiserver_status().get("pid")
        path.write_text(original)
        if changed or not lab.apiserver_status().get("ready"):
            lab.wait_apiserver_ready(previous_pid=before if changed else None)
            lab.wait_controllers()


def edit(path, change) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_manifest_change_restarts_the_apiserver(lab, manifest):
    before = lab.wait_apiserver_ready()
    nonce = uuid.uuid4().hex
    edit(manifest, lambda d: d["metadata"].setdefault("annotations", {}).update({"lab.test/nonce": nonce}))
    after = lab.wait_apiserver_ready(previous_pid=before["pid"])
    assert after["pid"] != before["pid"]
    assert after["started_at"] > before["started_at"]
    assert after["manifest_sha256"] != before["manifest_sha256"]
    assert after["last_exit"]["reason"].startswith("Killed (manifest changed)")
    client.CoreV1Api(lab.api_client()).list_namespace()  # the new apiserver serves


def test_policy_or_formatting_only_change_does_not_restart(lab, manifest):
    before = lab.wait_apiserver_ready()
    policy = lab.audit_policy_path
    policy.write_text(policy.read_text() + "# edited by a test\n")
    # same Pod, other bytes (as after a YAML reformat): the kubelet does not restart either
    manifest.write_text("# a comment\n" + manifest.read_text())
    time.sleep(3)  # the supervisor polls every 0.5 s
    now = lab.apiserver_status()
    assert (now["pid"], now["started_at"], now["restart_count"]) == \
        (before["pid"], before["started_at"], before["restart_count"])


def test_forced_restart_keeps_the_manifest(lab, manifest):
    before = lab.wait_apiserver_ready()
    after = lab.restart_apiserver()
    assert after["pid"] != before["pid"]
    assert after["manifest_sha256"] == before["manifest_sha256"]
    assert after["restart_count"] == before["restart_count"] + 1


def test_a_broken_flag_is_reported_and_a_rollback_recovers(lab, manifest):
    before = lab.wait_apiserver_ready()

    def break_it(doc):
        cmd = doc["spec"]["containers"][0]["command"]
        cmd[:] = [a for a in cmd if not a.startswith("--audit-policy-file=")]
        cmd.append("--audit-policy-file=/etc/kubernetes/audit/missing-policy.yaml")

    edit(manifest, break_it)
    deadline = time.monotonic() + 60
    status = {}
    while time.monotonic() < deadline:
        status = lab.apiserver_status()
        if status.get("pid") != before["pid"] and status.get("last_exit") and \
                status["last_exit"]["exit_code"] not in (0, None) and "Killed" not in status["last_exit"]["reason"]:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the broken apiserver was not seen failing: {status}")
    assert "missing-policy.yaml" in status["last_exit"]["log_tail"]
    assert not status["ready"]
    # roll back: the supervisor restarts at once on the manifest change, without waiting for back-off
    manifest.write_text(manifest.read_text().replace("missing-policy.yaml", "policy.yaml"))
    lab.wait_apiserver_ready(timeout=60)


def test_flag_path_without_a_volume_is_not_visible_to_the_apiserver(lab, manifest):
    """A file the container does not mount does not exist for it, as in a real pod."""
    lab.wait_apiserver_ready()
    outside = lab.on_host("/etc/kubernetes/other/policy.yaml")
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_text(lab.audit_policy_path.read_text())
    edit(manifest, lambda d: d["spec"]["containers"][0]["command"].append(
        "--audit-policy-file=/etc/kubernetes/other/policy.yaml"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = lab.apiserver_status()
        if status.get("warnings") and status.get("last_exit") and "Killed" not in status["last_exit"]["reason"]:
            break
        time.sleep(0.5)
    assert any("/etc/kubernetes/other/policy.yaml" in w for w in status["warnings"])
    outside.unlink()
    outside.parent.rmdir()


def test_admin_writes_are_in_the_audit_log(lab):
    core = client.CoreV1Api(lab.api_client())
    since = lab.now()
    name = f"lab-audit-{uuid.uuid4().hex[:6]}"
    core.list_namespace()  # a read: not a write
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name + "-dry")), dry_run="All")
    core.delete_namespace(name)
    # other sessions share the lab (and its admin): look at this test's namespaces only
    writes = lab.write_requests(since, namespace=name) + lab.write_requests(since, namespace=name + "-dry")
    mine = sorted((e["verb"], e["objectRef"].get("name")) for e in writes)
    assert mine == [("create", name), ("create", name + "-dry"), ("delete", name)], lab.describe(writes)
    assert all(e["user"]["username"] == "kubernetes-admin" for e in writes)
    assert [e["objectRef"]["name"] for e in lab.write_requests(since, namespace=name + "-dry",
                                                              include_dry_run=False)] == []
    assert lab.count_writes(lab.now(), namespace=name) == 0
