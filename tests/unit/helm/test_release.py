"""Planning a Helm release without a cluster: the no-op fast path, certain upgrades, pending
releases, CRD-first charts, values merging and the manifest diff."""

import tarfile
from pathlib import Path

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.helm import release as hr
from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import HelmError, last_deployed

from tests.fakes.kube_api import FakeApi

MANIFEST = """---
# Source: c/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  a: "1"
"""


class FakeHelm:
    def __init__(self, status="deployed", *, values=None, manifest=MANIFEST, chart="c-0.1.0", render=MANIFEST,
                 exists=True, dry_run_error=None):
        self.calls = []
        self.release = None
        if exists:
            self.release = {"name": "app", "version": 2, "info": {"status": status},
                            "config": values or {}, "manifest": manifest}
        self.hist = [{"revision": 1, "status": "superseded", "chart": chart},
                     {"revision": 2, "status": status, "chart": chart}] if exists else []
        self.render = render
        self.dry_run_error = dry_run_error

    def status(self, name, namespace):
        self.calls.append("status")
        return self.release

    def history(self, name, namespace):
        self.calls.append("history")
        return self.hist

    def template(self, name, namespace, chart, values, **kw):
        self.calls.append("template")
        return self.render

    def version(self):
        return "v3.19.5+gfake"

    def upgrade(self, name, namespace, chart, values, *, create_namespace=False, dry_run=None):
        self.calls.append("upgrade-dry" if dry_run else "upgrade")
        if dry_run and self.dry_run_error:
            raise HelmError("failed", self.dry_run_error)
        return {"manifest": self.render, "config": values, "chart": {"metadata": {"name": "c", "version": "0.1.0"}},
                "version": 3}


@pytest.fixture
def chart(tmp_path):
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    return {"ref": str(tmp_path)}


def plan(helm, chart, values=None, check_mode=False, recover=False):
    return hr.plan_release(helm, "app", "ns", chart, values or {}, create_namespace=True, recover_pending=recover,
                           check_mode=check_mode, kube_version="v1.34.4")


def test_unchanged_release_needs_no_server_dry_run(chart):
    helm = FakeHelm()
    result = plan(helm, chart)
    assert result.action == "none" and result.diff == []
    assert helm.calls == ["status", "history", "template"]
    assert [o["metadata"]["name"] for o in result.planned_objects] == ["app"]


def test_changed_values_upgrade_without_a_dry_run(chart):
    helm = FakeHelm()
    result = plan(helm, chart, values={"a": 2})
    assert result.action == "upgrade" and result.reasons == ["values differ"]
    assert "upgrade-dry" not in helm.calls


def test_changed_values_in_check_mode_get_a_server_dry_run_diff(chart):
    render = MANIFEST.replace('"1"', '"2"')
    helm = FakeHelm(render=render)
    result = plan(helm, chart, values={"a": 2}, check_mode=True)
    assert "upgrade-dry" in helm.calls
    assert result.action == "upgrade" and result.reasons == ["values differ", "rendered objects differ"]
    [item] = result.diff
    assert item["action"] == "update" and item["after"]["data"] == {"a": "2"}


def test_client_render_difference_is_confirmed_server_side(chart):
    # e.g. a chart that renders a ServiceMonitor only when the cluster serves its API
    helm = FakeHelm(render=MANIFEST + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n")
    helm.upgrade = lambda *a, **k: (helm.calls.append("upgrade-dry"),
                                    {"manifest": MANIFEST, "config": {}, "chart": {"metadata": {"name": "c",
                                                                                             "version": "0.1.0"}}})[1]
    result = plan(helm, chart)
    assert helm.calls[-1] == "upgrade-dry" and result.action == "none"


def test_chart_version_change_is_an_upgrade(chart):
    result = plan(FakeHelm(chart="c-0.0.9"), chart)
    assert result.action == "upgrade" and result.reasons == ["chart c-0.0.9 -> c-0.1.0"]


def test_missing_release_installs_without_rendering_twice(chart):
    helm = FakeHelm(exists=False)
    result = plan(helm, chart)
    assert result.action == "install" and helm.calls == ["status"]


def test_failed_release_is_upgraded(chart):
    result = plan(FakeHelm(status="failed"), chart)
    assert result.action == "upgrade" and "release status is failed" in result.reasons


def test_pending_release_fails_with_the_revision_to_roll_back_to(chart):
    with pytest.raises(hr.PendingRelease, match=r"stuck in pending-upgrade \(revision 2\).*to revision 1"):
        plan(FakeHelm(status="pending-upgrade"), chart)


def test_pending_release_recovery_is_planned_client_side(chart):
    helm = FakeHelm(status="pending-upgrade")
    result = plan(helm, chart, recover=True, check_mode=True)
    assert result.recover == ("rollback", 1)
    assert "upgrade-dry" not in helm.calls and "the release is pending-upgrade" in result.note


def test_pending_install_without_a_deployed_revision_is_uninstalled(chart):
    helm = FakeHelm(status="pending-install")
    helm.hist = [{"revision": 1, "status": "pending-install", "chart": "c-0.1.0"}]
    with pytest.raises(hr.PendingRelease, match="no deployed revision"):
        plan(helm, chart)
    assert plan(helm, chart, recover=True, check_mode=True).recover == ("uninstall", None)


def test_check_mode_install_whose_crds_are_missing_renders_client_side(chart):
    helm = FakeHelm(exists=False, dry_run_error='no matches for kind "ServiceMonitor"; ensure CRDs are installed first')
    result = plan(helm, chart, check_mode=True)
    assert result.action == "install" and "client-side render" in result.note
    assert [d["action"] for d in result.diff] == ["create"]


def test_render_errors_are_not_hidden(chart):
    helm = FakeHelm(exists=False, dry_run_error="execution error at (c/templates/cm.yaml:6:11): size is required")
    with pytest.raises(HelmError):
        plan(helm, chart, check_mode=True)


def test_values_files_merge_like_helm(tmp_path):
    first = tmp_path / "a.yml"
    first.write_text("a: {b: 1, c: [1, 2]}\nd: x\n")
    second = tmp_path / "b.yml"
    second.write_text("a: {c: [3]}\n")
    merged = hr.merged_values([str(first), str(second)], {"a": {"e": True}})
    assert merged == {"a": {"b": 1, "c": [3], "e": True}, "d": "x"}


def test_values_diff_redacts_credentials():
    p = hr.HelmPlan()
    p.current = {"config": {"grafana": {"adminPassword": "old", "replicas": 1}}}
    p.planned = {"config": {"grafana": {"adminPassword": "new", "replicas": 2}}}
    item = hr.values_diff(p)
    assert item["after"] == {"grafana": {"adminPassword": "<redacted>", "replicas": 2}}


def test_last_deployed_skips_failed_and_pending():
    history = [{"revision": 1, "status": "superseded"}, {"revision": 2, "status": "failed"},
               {"revision": 3, "status": "pending-upgrade"}]
    assert last_deployed(history, before=3)["revision"] == 1


PVC_TEMPLATE = 'kind: PersistentVolumeClaim\n{{- with (lookup "v1" "PersistentVolumeClaim" "ns" "data") }}\n' \
               'volumeName: {{ .spec.volumeName }}\n{{- end }}\n'
PVC = """---
# Source: c/templates/pvc.yaml
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  resources: {requests: {storage: 1Gi}}
"""


@pytest.fixture
def lookup_chart(tmp_path):
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "pvc.yaml").write_text(PVC_TEMPLATE)
    (tmp_path / "templates" / "cm.yaml").write_text("kind: ConfigMap\n")
    return {"ref": str(tmp_path)}


def test_objects_of_templates_that_read_the_cluster_are_judged_by_chart_and_values(lookup_chart):
    bound = PVC.replace("spec:\n", "spec:\n  volumeName: pv-1\n")
    helm = FakeHelm(manifest=MANIFEST + bound, render=MANIFEST + PVC)
    result = plan(helm, lookup_chart)
    assert result.action == "none"
    assert "upgrade-dry" not in helm.calls


def test_the_server_dry_run_also_ignores_what_lookup_read(lookup_chart):
    bound = PVC.replace("spec:\n", "spec:\n  volumeName: pv-1\n")
    # the client-side render differs in a template without lookup: the server decides, and its render
    # differs from the stored manifest only in the object a lookup filled in
    helm = FakeHelm(manifest=MANIFEST + PVC, render=MANIFEST + bound)
    helm.template = lambda *a, **kw: MANIFEST.replace('"1"', '"3"') + PVC
    result = plan(helm, lookup_chart)
    assert result.action == "none", result.reasons
    assert "upgrade-dry" in helm.calls


def test_other_objects_still_count_when_a_lookup_object_differs(lookup_chart):
    bound = PVC.replace("spec:\n", "spec:\n  volumeName: pv-1\n")
    helm = FakeHelm(manifest=MANIFEST + PVC, render=MANIFEST.replace('"1"', '"2"') + bound)
    result = plan(helm, lookup_chart)
    assert result.action == "upgrade" and "rendered objects differ" in result.reasons


def test_the_same_documents_in_another_order_are_unchanged_without_parsing(chart, monkeypatch):
    other = "---\n# Source: c/templates/b.yaml\nkind: Secret\nmetadata: {name: b}\n"
    helm = FakeHelm(manifest=MANIFEST + other, render=other + MANIFEST)
    monkeypatch.setattr(hr, "parse_manifest", _refuse)
    assert hr._fast_verdict(plan_of(helm), helm, ("app", "ns", chart, {}), kube_version=None) is False


def plan_of(helm):
    p = hr.HelmPlan()
    p.current = helm.release
    p.history = helm.hist
    return p


def _refuse(*_args, **_kw):
    raise AssertionError("parsed although the texts are the same")


def test_a_packaged_chart_is_identified_without_a_repository(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "Chart.yaml").write_text("apiVersion: v2\nname: loki\nversion: 6.55.0\n")
    archive = tmp_path / "loki-6.55.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "Chart.yaml", arcname="loki/Chart.yaml")
    assert hr.local_chart_id({"ref": str(archive)}) == ("loki", "6.55.0")


def test_an_unchanged_release_whose_live_object_was_edited_is_an_upgrade(chart):
    helm = FakeHelm()
    helm.environ = {"HELM_DRIVER": "configmap"}
    api = FakeApi([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "ns"},
                    "data": {"a": "edited"}}])
    result = hr.plan_release(helm, "app", "ns", chart, {}, create_namespace=True, recover_pending=False,
                             check_mode=False, kube_version="v1.34.4", api=api)
    assert result.action == "upgrade"
    assert result.reasons == ["live objects drifted from the release: ConfigMap ns/app (field data.a)"]
    assert api.counts["LIST"] == 1 and api.writes() == 0
    api.objects[next(iter(api.objects))]["data"]["a"] = "1"
    assert hr.plan_release(helm, "app", "ns", chart, {}, create_namespace=True, recover_pending=False,
                           check_mode=False, kube_version="v1.34.4", api=api).action == "none"


def test_a_render_that_matched_is_not_made_again_for_the_same_inputs(chart):
    plan(FakeHelm(), chart)
    helm = FakeHelm()
    result = plan(helm, chart)
    assert result.action == "none" and result.diff == []
    assert helm.calls == ["status", "history"]
    assert "render that matched before" in result.note
    assert [o["metadata"]["name"] for o in result.planned_objects] == ["app"]


@pytest.mark.parametrize("what", ["stored manifest", "kube version", "chart file", "namespace"])
def test_any_input_of_the_render_that_changed_renders_again(chart, what):
    plan(FakeHelm(), chart)
    helm = FakeHelm(manifest=MANIFEST + "\n" if what == "stored manifest" else MANIFEST)
    if what == "chart file":
        (Path(chart["ref"]) / "values.yaml").write_text("a: 2\n")
    kube = "v1.35.0" if what == "kube version" else "v1.34.4"
    namespace = "other" if what == "namespace" else "ns"
    hr.plan_release(helm, "app", namespace, chart, {}, create_namespace=True, recover_pending=False,
                    check_mode=False, kube_version=kube)
    assert "template" in helm.calls


def test_a_render_that_differed_is_not_remembered(chart):
    changed = MANIFEST.replace('"1"', '"2"')
    plan(FakeHelm(render=changed), chart)
    helm = FakeHelm(render=changed)
    assert plan(helm, chart).action == "upgrade"
    assert helm.calls.count("template") == 1
