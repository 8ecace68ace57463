"""One component's lifecycle without a cluster: a Helm release whose new revision fails its health
gate is rolled back (``rollback_on_failure``) to the revision deployed before the run, a failed
install is uninstalled, and nothing is undone when the option is off."""

import copy
import json
import time

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.deploy.lifecycle import deploy
from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import HelmError
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApiError, Ref
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter

MANIFEST = """---
# Source: c/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: ns
data:
  a: "1"
"""
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "ns"},
             "data": {"a": "1"}}


class FakeHelm:
    """The helm CLI object as deploy() uses it; records every call that writes."""

    # any driver but "secret": the release records come from status/history, not from the API's Secrets
    environ = {"HELM_DRIVER": "configmap"}

    def __init__(self, api, history=(), values=None, *, writes_objects=False, rollback_error=None, manifest=MANIFEST,
                 upgrade_errors=()):
        self.api = api
        self.manifest = manifest
        self.upgrade_errors = list(upgrade_errors)  # stderr of the next real upgrades, which fail
        self.hist = [dict(r) for r in history]
        self.values = values or {}
        self.writes_objects = writes_objects
        self.rollback_error = rollback_error
        self.calls = []

    def _latest(self):
        return self.hist[-1] if self.hist else None

    def major(self):
        return 3

    def version(self):
        return "v3.19.5+gfake"

    def close(self):
        self.calls.append(("close",))

    def status(self, name, namespace):
        latest = self._latest()
        if latest is None:
            return None
        return {"name": name, "namespace": namespace, "version": latest["revision"],
                "info": {"status": latest["status"]}, "config": self.values, "manifest": self.manifest}

    def history(self, name, namespace):
        return copy.deepcopy(self.hist)

    def template(self, name, namespace, chart, values, **_):
        return self.manifest

    def upgrade(self, name, namespace, chart, values, *, create_namespace=False, dry_run=None):
        revision = (self._latest() or {}).get("revision", 0) + 1
        release = {"version": revision, "manifest": self.manifest, "config": values,
                   "chart": {"metadata": {"name": "c", "version": "0.1.0"}}}
        if dry_run:
            return release
        self.calls.append(("upgrade", name, namespace))
        self.objects_at_upgrade = copy.deepcopy(self.api.objects)
        if self.upgrade_errors:
            stderr = self.upgrade_errors.pop(0)
            self.hist.append({"revision": revision, "status": "failed", "chart": "c-0.1.0"})
            raise HelmError("helm upgrade app failed: %s" % stderr, stderr)
        self.hist.append({"revision": revision, "status": "deployed", "chart": "c-0.1.0"})
        if self.writes_objects:
            self.api.put(CONFIGMAP)
        return release

    def rollback(self, name, namespace, revision):
        self.calls.append(("rollback", name, namespace, revision))
        if self.rollback_error:
            raise HelmError(self.rollback_error, self.rollback_error)

    def uninstall(self, name, namespace, wait=False):
        self.calls.append(("uninstall", name, namespace))

    def writes(self):
        return [c for c in self.calls if c[0] in ("rollback", "uninstall")]


def instant_waiter(api):
    """The real waiter, but its sleep moves its clock on at once: a wait_timeout passes without waiting."""
    now = [0.0]
    return Waiter(api, clock=lambda: now[0], sleep=lambda seconds: now.__setitem__(0, now[0] + seconds))


DEPLOYED_2 = [{"revision": 1, "status": "superseded", "chart": "c-0.1.0"},
              {"revision": 2, "status": "deployed", "chart": "c-0.1.0"}]
# two failed upgrades after revision 2: the one to go back to is neither the latest nor the one before it
FAILED_TWICE = DEPLOYED_2 + [{"revision": 3, "status": "failed", "chart": "c-0.1.0"},
                             {"revision": 4, "status": "failed", "chart": "c-0.1.0"}]


@pytest.fixture
def chart(tmp_path):
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    return {"ref": str(tmp_path)}


@pytest.fixture
def cluster(fake_api):
    api = fake_api([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}])
    api.version = lambda: {"gitVersion": "v1.34.4"}
    return api


def run(api, helm, chart, **params):
    params = dict({"name": "app", "namespace": "ns", "chart": chart, "values": {"a": 2}, "wait": True,
                   "wait_timeout": 30, "rollback_on_failure": True}, **params)
    return deploy(params, api, helm=helm, waiter=instant_waiter(api))


@pytest.mark.parametrize("history", [DEPLOYED_2, FAILED_TWICE], ids=["after-deployed", "after-failed-upgrades"])
def test_a_failed_upgrade_is_rolled_back_to_the_revision_deployed_before_the_run(cluster, chart, history):
    helm = FakeHelm(cluster, history)
    result = run(cluster, helm, chart)
    assert result["failed"] and result["health"] == h.MISSING
    assert result["revision"] == history[-1]["revision"] + 1
    assert helm.writes() == [("rollback", "app", "ns", 2)]
    assert result["rolled_back_to"] == 2
    assert result["msg"].startswith("app: not healthy after 30s: ")
    assert result["msg"].endswith(" (rolled back to revision 2)")
    assert "rollback" in result["timing"]
    assert helm.calls[-1] == ("close",)


def test_a_failed_install_is_uninstalled(cluster, chart):
    helm = FakeHelm(cluster)
    result = run(cluster, helm, chart)
    assert result["failed"] and result["plan"]["action"] == "install"
    assert helm.writes() == [("uninstall", "app", "ns")]
    assert result["rolled_back_to"] == 0
    assert result["msg"].endswith(" (the new release was uninstalled)")


@pytest.mark.parametrize("history", [DEPLOYED_2, FAILED_TWICE, []], ids=["upgrade", "after-failed", "install"])
def test_without_rollback_on_failure_the_failed_revision_stays(cluster, chart, history):
    helm = FakeHelm(cluster, history)
    result = run(cluster, helm, chart, rollback_on_failure=False)
    assert result["failed"] and ("upgrade", "app", "ns") in helm.calls
    assert helm.writes() == []
    assert "rolled_back_to" not in result and "rollback" not in result["timing"]
    assert result["msg"].startswith("app: not healthy after 30s: ")
    assert "rolled back" not in result["msg"] and "uninstalled" not in result["msg"]


def test_a_healthy_upgrade_is_kept(cluster, chart):
    helm = FakeHelm(cluster, DEPLOYED_2, writes_objects=True)
    result = run(cluster, helm, chart)
    assert "failed" not in result and result["health"] == h.HEALTHY and result["revision"] == 3
    assert helm.writes() == [] and "rolled_back_to" not in result


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "ns"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}}}}


def test_an_unchanged_release_that_is_not_healthy_is_not_rolled_back(cluster, chart):
    cluster.put(dict(DEPLOYMENT, metadata=dict(DEPLOYMENT["metadata"], generation=1),
                     status={"observedGeneration": 1, "replicas": 1, "availableReplicas": 0}))
    helm = FakeHelm(cluster, DEPLOYED_2, values={"a": 2}, manifest=yaml.safe_dump(DEPLOYMENT))
    result = run(cluster, helm, chart)
    assert result["plan"]["action"] == "none" and result["failed"]
    assert helm.calls == [("close",)]
    assert "rolled_back_to" not in result


def test_a_rollback_that_fails_is_said_in_the_message(cluster, chart):
    helm = FakeHelm(cluster, DEPLOYED_2, rollback_error="another operation is in progress")
    result = run(cluster, helm, chart)
    assert helm.writes() == [("rollback", "app", "ns", 2)]
    assert "rolled_back_to" not in result
    assert result["msg"].endswith(" (rollback failed: another operation is in progress)")


THING = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t", "namespace": "ns"},
         "spec": {"size": 3}}


GADGET = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"size": 3}}


def drifting_cluster(cluster, obj=THING):
    cluster.kinds[("example.com/v1", "Thing")] = ("things", True)
    cluster.kinds[("example.com/v1", "Gadget")] = ("gadgets", False)
    cluster.put(obj)
    return cluster


def test_an_unchanged_release_whose_object_was_deleted_is_upgraded_and_says_which(cluster, chart):
    helm = FakeHelm(cluster, DEPLOYED_2, values={"a": 2}, writes_objects=True)
    result = run(cluster, helm, chart)
    assert result["plan"]["action"] == "upgrade" and result["changed"] and result["health"] == h.HEALTHY
    assert result["drift"] == [{"kind": "ConfigMap", "namespace": "ns", "name": "app", "drift": "missing"}]
    assert "live objects drifted from the release: ConfigMap ns/app (missing)" in result["plan"]["reasons"][0]
    assert [d["action"] for d in result["diff"]] == ["create"]
    assert ("upgrade", "app", "ns") in helm.calls and "drift_applied" not in result

    cluster.counts.clear()
    again = run(cluster, FakeHelm(cluster, helm.hist, values={"a": 2}), chart)
    assert again["plan"]["action"] == "none" and "drift" not in again
    assert cluster.writes() == 0 and cluster.counts["LIST"] == 1


@pytest.mark.parametrize(("obj", "namespace"), [(THING, "ns"), (GADGET, None)], ids=["namespaced", "cluster-scoped"])
def test_a_field_helm_does_not_restore_is_applied_after_the_upgrade(cluster, chart, obj, namespace):
    """Helm 3 patches a custom resource or a CRD two-way (stored against rendered, the same): the edit stays."""
    drifting_cluster(cluster, obj)
    next(o for r, o in cluster.objects.items() if r.kind == obj["kind"])["spec"]["size"] = 1
    helm = FakeHelm(cluster, DEPLOYED_2, values={"a": 2}, manifest=yaml.safe_dump(obj))
    result = run(cluster, helm, chart)
    assert result["drift"] == [{"kind": obj["kind"], "namespace": namespace, "name": obj["metadata"]["name"],
                                "drift": "spec.size"}]
    assert result["drift_applied"] == result["drift"]
    assert next(o for r, o in cluster.objects.items() if r.kind == obj["kind"])["spec"]["size"] == 3
    assert cluster.counts["PATCH"] == 1


def test_check_mode_reports_drift_and_writes_nothing(cluster, chart):
    drifting_cluster(cluster)
    next(o for r, o in cluster.objects.items() if r.kind == "Thing")["spec"]["size"] = 1
    helm = FakeHelm(cluster, DEPLOYED_2, values={"a": 2}, manifest=yaml.safe_dump(THING))
    result = deploy({"name": "app", "namespace": "ns", "chart": chart, "values": {"a": 2}, "wait": False},
                    cluster, check_mode=True, helm=helm, waiter=instant_waiter(cluster))
    assert result["changed"] and result["drift"][0]["drift"] == "spec.size"
    assert result["diff"][0]["before"]["spec"] == {"size": 1} and result["diff"][0]["after"]["spec"] == {"size": 3}
    assert helm.calls == [("close",)] and cluster.writes() == 0


def test_an_edited_object_is_restored_as_helm_before_the_upgrade(cluster, chart):
    """Helm 4's server-side apply refuses a field kubectl changed: the upgrade must find it restored, and
    restored by helm's own field manager, so that later upgrades meet no conflict either."""
    drifting_cluster(cluster)
    live = next(o for r, o in cluster.objects.items() if r.kind == "Thing")
    live["spec"]["size"] = 1
    live["metadata"]["managedFields"] = [{"manager": "kubectl-edit", "operation": "Update"},
                                         {"manager": "helm", "operation": "Update"}]
    helm = FakeHelm(cluster, DEPLOYED_2, values={"a": 2}, manifest=yaml.safe_dump(THING))
    run(cluster, helm, chart)
    assert next(o for r, o in helm.objects_at_upgrade.items() if r.kind == "Thing")["spec"]["size"] == 3
    assert cluster.field_managers == ["helm"]


STS_REFUSED = ("Error: UPGRADE FAILED: cannot patch \"app\" with kind StatefulSet: StatefulSet.apps \"app\" is "
               "invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
               "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
               "are forbidden")
STS = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "app", "namespace": "ns"}}
STS_REF = Ref("apps/v1", "StatefulSet", "ns", "app")


@pytest.mark.parametrize("rollback_on_failure", [True, False])
def test_an_immutable_refusal_is_explained_and_rolled_back_whatever_rollback_on_failure(cluster, chart,
                                                                                       rollback_on_failure):
    helm = FakeHelm(cluster, DEPLOYED_2, upgrade_errors=[STS_REFUSED])
    result = run(cluster, helm, chart, rollback_on_failure=rollback_on_failure)
    assert result["failed"]
    # the fake's refused revision holds no StatefulSet: the field stays the apiserver's "spec"
    assert result["msg"].startswith("app: StatefulSet ns/app cannot be changed in place: spec (")
    assert "recreate_immutable=true" in result["msg"]
    assert result["msg"].endswith("(the release was rolled back to revision 2, what ran before this run: "
                                  "nothing changed)")
    assert helm.writes() == [("rollback", "app", "ns", 2)] and result["rolled_back_to"] == 2
    assert cluster.deleted == []


def test_recreate_immutable_orphans_the_statefulset_and_upgrades_again(cluster, chart):
    cluster.put(STS)
    helm = FakeHelm(cluster, DEPLOYED_2, upgrade_errors=[STS_REFUSED], writes_objects=True)
    result = run(cluster, helm, chart, recreate_immutable=True)
    assert "failed" not in result, result.get("msg")
    assert cluster.deleted == [(Ref("apps/v1", "StatefulSet", "ns", "app"), "Orphan")]
    assert [c for c in helm.calls if c[0] == "upgrade"] == [("upgrade", "app", "ns")] * 2
    assert result["recreated"] == [str(Ref("apps/v1", "StatefulSet", "ns", "app"))]
    assert helm.writes() == [] and result["revision"] == 4


def test_a_second_failed_upgrade_after_recreating_rolls_the_release_back(cluster, chart):
    cluster.put(STS)
    helm = FakeHelm(cluster, DEPLOYED_2, upgrade_errors=[STS_REFUSED, "Error: UPGRADE FAILED: context deadline"])
    result = run(cluster, helm, chart, recreate_immutable=True)
    assert result["failed"] and cluster.deleted == [(STS_REF, "Orphan")]
    assert result["msg"].startswith("app: the upgrade after recreating StatefulSet ns/app failed: ")
    assert result["msg"].endswith("(the release was rolled back to revision 2, what ran before this run, which "
                                  "created the deleted objects again)")
    assert helm.writes() == [("rollback", "app", "ns", 2)] and result["rolled_back_to"] == 2


def test_a_second_failure_whose_rollback_fails_too_says_so(cluster, chart):
    cluster.put(STS)
    helm = FakeHelm(cluster, DEPLOYED_2, upgrade_errors=[STS_REFUSED, "Error: UPGRADE FAILED: x"],
                    rollback_error="release: not found")
    result = run(cluster, helm, chart, recreate_immutable=True)
    assert result["failed"] and result["msg"].endswith("putting it back failed too: release: not found)")


def test_a_failed_deletion_rolls_the_release_back(cluster, chart):
    cluster.put(STS)

    def forbid(verb, ref):
        raise KubeApiError(403, "Forbidden", "statefulsets is forbidden", verb, "/")
    cluster.on_write = forbid
    helm = FakeHelm(cluster, DEPLOYED_2, upgrade_errors=[STS_REFUSED])
    result = run(cluster, helm, chart, recreate_immutable=True)
    assert result["failed"] and result["msg"].startswith("app: recreating StatefulSet ns/app failed: ")
    assert helm.writes() == [("rollback", "app", "ns", 2)]
    assert "which created the deleted objects again" in result["msg"]


INGRESS_CLASS_REFUSED = ('IngressClass.networking.k8s.io "nginx" is invalid: spec.controller: Invalid value: "b": '
                         'field is immutable')


def test_a_refused_object_that_cannot_be_resolved_deletes_nothing(cluster, chart):
    """The IngressClass is outside the version table and not in the refused revision: the StatefulSet before
    it must not be deleted either."""
    cluster.put(STS)
    helm = FakeHelm(cluster, DEPLOYED_2, upgrade_errors=[STS_REFUSED + " && " + INGRESS_CLASS_REFUSED])
    result = run(cluster, helm, chart, recreate_immutable=True)
    assert result["failed"] and cluster.deleted == []
    assert "cannot recreate IngressClass nginx" in result["msg"] and "nothing was deleted" in result["msg"]
    assert helm.writes() == [("rollback", "app", "ns", 2)]
    assert [c for c in helm.calls if c[0] == "upgrade"] == [("upgrade", "app", "ns")]


def test_a_cluster_scoped_kind_is_recreated_as_the_refused_revision_renders_it(cluster, chart):
    ingress_class = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
                     "spec": {"controller": "a"}}
    cluster.kinds[("networking.k8s.io/v1", "IngressClass")] = ("ingressclasses", False)
    cluster.put(STS)
    cluster.put(ingress_class)
    helm = FakeHelm(cluster, DEPLOYED_2, upgrade_errors=[STS_REFUSED + " && " + INGRESS_CLASS_REFUSED],
                    manifest="---\n" + json.dumps(dict(ingress_class, spec={"controller": "b"})))
    result = run(cluster, helm, chart, recreate_immutable=True, wait=False)
    assert "failed" not in result, result.get("msg")
    assert cluster.deleted == [(STS_REF, "Orphan"),
                               (Ref("networking.k8s.io/v1", "IngressClass", None, "nginx"), "Background")]


def test_another_helm_error_is_not_taken_for_an_immutable_one(cluster, chart):
    helm = FakeHelm(cluster, DEPLOYED_2, upgrade_errors=["Error: UPGRADE FAILED: context deadline exceeded"])
    result = run(cluster, helm, chart, recreate_immutable=True)
    assert result["failed"] and "context deadline exceeded" in result["msg"]
    assert cluster.deleted == [] and helm.writes() == []


def test_the_refused_revision_and_the_live_object_name_the_changed_field(cluster, chart):
    def sts(storage_class):
        return dict(STS, spec={"replicas": 1, "volumeClaimTemplates": [
            {"metadata": {"name": "data"}, "spec": {"storageClassName": storage_class}}]})
    cluster.put(sts("nfs-client"))
    helm = FakeHelm(cluster, DEPLOYED_2, upgrade_errors=[STS_REFUSED])
    stored = helm.status

    def status(name, namespace):
        release = stored(name, namespace)
        if ("upgrade", "app", "ns") in helm.calls:  # the failed revision helm recorded
            release["manifest"] = "---\n" + json.dumps(sts("local-path"))
        return release

    helm.status = status
    result = run(cluster, helm, chart)
    assert result["msg"].startswith("app: StatefulSet ns/app cannot be changed in place: "
                                    "spec.volumeClaimTemplates[data].spec.storageClassName (nfs-client -> local-path) "
                                    "is immutable")


def test_a_run_that_waited_for_another_runs_lock_plans_again_and_finds_its_work_done(cluster, chart):
    helm = FakeHelm(cluster, DEPLOYED_2, values={"a": 1}, writes_objects=True)
    cluster.put(CONFIGMAP)

    def the_other_run_deployed_it():
        helm.values = {"a": 2}
        return time.monotonic()  # this run waited for the other's lock and took it now

    cluster.before_write = the_other_run_deployed_it
    result = run(cluster, helm, chart)
    assert "failed" not in result, result.get("msg")
    assert result["plan"]["action"] == "none" and not result["changed"]
    assert not [c for c in helm.calls if c[0] == "upgrade"]


def test_a_pending_release_is_judged_once_the_lock_is_ours(cluster, chart):
    helm = FakeHelm(cluster, DEPLOYED_2 + [{"revision": 3, "status": "pending-upgrade", "chart": "c-0.1.0"}],
                    values={"a": 2})
    cluster.put(CONFIGMAP)

    def the_other_run_finished():
        helm.hist[-1]["status"] = "deployed"
        return time.monotonic()

    cluster.before_write = the_other_run_finished
    result = run(cluster, helm, chart)
    assert "failed" not in result, result.get("msg")
    assert result["plan"]["action"] == "none"
    # without another run's lock the pending release is refused as before
    cluster.before_write = lambda: None
    helm.hist[-1]["status"] = "pending-upgrade"
    assert "recover_pending=true" in run(cluster, helm, chart)["msg"]


def test_a_run_that_took_the_lock_without_waiting_plans_once(cluster, chart):
    helm = FakeHelm(cluster, DEPLOYED_2, values={"a": 1}, writes_objects=True)
    asked = []
    cluster.before_write = lambda: asked.append(True) or None
    result = run(cluster, helm, chart)
    assert result["plan"]["action"] == "upgrade" and asked
    assert len([c for c in helm.calls if c[0] == "upgrade"]) == 1


def test_a_component_planned_after_the_lock_was_taken_plans_once_though_the_run_waited(cluster, chart,
                                                                                       monkeypatch):
    from ansible_collections.homelab.observability.plugins.module_utils.deploy import chart as dc  # noqa: PLC0415

    plans = []
    planned = dc.plan_release
    monkeypatch.setattr(dc, "plan_release", lambda *a: plans.append(1) or planned(*a))
    helm = FakeHelm(cluster, DEPLOYED_2, values={"a": 1}, writes_objects=True)
    taken = time.monotonic()  # an earlier component waited for another run's lock and took it then
    cluster.before_write = lambda: taken
    result = run(cluster, helm, chart)
    assert "failed" not in result, result.get("msg")
    assert result["plan"]["action"] == "upgrade" and len(plans) == 1  # its plan began under the lock
    cluster.before_write = time.monotonic  # a take after this plan began: plan again
    run(cluster, helm, chart)
    assert len(plans) == 3


def test_a_refused_lock_leaves_the_component_unchanged(cluster, chart):
    from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError  # noqa: PLC0415

    def refused():
        raise KubeError("another deploy holds the deploy lock: host=a pid=1")

    helm = FakeHelm(cluster, DEPLOYED_2, values={"a": 1})
    cluster.before_write = refused
    result = run(cluster, helm, chart)
    assert result["failed"] and "host=a pid=1" in result["msg"] and not result["changed"]
    assert not [c for c in helm.calls if c[0] == "upgrade"]
