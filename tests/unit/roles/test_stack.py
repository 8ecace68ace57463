"""The stack role's plan: every component in its seed wave, in the shape the waves module accepts."""

import json

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.waves.args import component_spec

from .rendering import run_playbook

# The seed names waves -1 and 0; -2 (CRDs) and 2 (Goldilocks after the VPA CRD) order dependencies.
SEED_WAVES = {
    "prometheus-operator-crds": -2,
    "kube-prometheus-stack": -1,
    "loki": -1,
    "alloy": 0,
    "exportarr": 1,
    "uptime-kuma": 1,
    "vpa": 1,
    "goldilocks": 2,  # after the VPA CRD of wave 1
    "capacity-dashboards": 1,
}


def _plan(tmp_path, **extra):
    proc = run_playbook("render_stack.yml", dict(extra, render_dest=str(tmp_path)))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((tmp_path / "stack.json").read_text())


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return _plan(tmp_path_factory.mktemp("stack"))


def test_every_component_in_its_seed_wave(plan):
    assert {c["name"]: c["wave"] for c in plan} == SEED_WAVES


def test_components_fit_the_waves_module(plan):
    allowed = set(component_spec())
    for comp in plan:
        assert set(comp) <= allowed, (comp["name"], set(comp) - allowed)
        assert ("chart" in comp) != ("manifests" in comp), comp["name"]
        if "chart" in comp:
            assert set(comp["chart"]) <= {"ref", "repo_url", "version"}
            assert comp["chart"]["version"] not in ("", "latest")
        assert isinstance(comp["wait_timeout"], int) and isinstance(comp["wave"], int)


def test_a_subset_of_roles(tmp_path):
    plan = _plan(tmp_path, stack_roles=["loki", "alloy"])
    assert [c["name"] for c in plan] == ["loki", "alloy"]


def test_unknown_roles_are_refused(tmp_path):
    with pytest.raises(AssertionError, match="unknown roles"):
        _plan(tmp_path, stack_roles=["loki", "promtail"])


def test_helm_binary_for_every_component(tmp_path):
    plan = _plan(tmp_path, stack_roles=["loki", "uptime_kuma"], stack_helm_binary_path="/opt/helm/helm")
    assert [c.get("binary_path") for c in plan] == ["/opt/helm/helm", "/opt/helm/helm"]


def test_no_helm_binary_by_default(plan):
    assert all("binary_path" not in c for c in plan)


def test_the_plan_is_shown_wave_by_wave_before_anything_runs(tmp_path):
    proc = run_playbook("render_stack.yml", {"render_dest": str(tmp_path)}, ANSIBLE_STDOUT_CALLBACK="default")
    assert proc.returncode == 0, proc.stdout[-3000:]
    shown = proc.stdout[proc.stdout.index("Show the plan"):proc.stdout.index("Roll out the components in waves")]
    for line in ("wave -2: prometheus-operator-crds", "wave -1: kube-prometheus-stack, loki", "wave 0: alloy",
                 "wave 1: exportarr, uptime-kuma, vpa, capacity-dashboards", "wave 2: goldilocks"):
        assert '"%s"' % line in shown, shown


def test_no_recovery_by_default(plan):
    charts = [c for c in plan if "chart" in c]
    assert charts and all(c["recover_pending"] is False and c["rollback_on_failure"] is False for c in charts)


def test_a_role_recovery_switch_reaches_its_components_alone(tmp_path):
    plan = _plan(tmp_path, stack_roles=["kube_prometheus_stack", "loki"], kube_prometheus_stack_recover_pending=True,
                 loki_rollback_on_failure=True)
    switches = {c["name"]: (c.get("recover_pending"), c.get("rollback_on_failure")) for c in plan}
    assert switches == {"prometheus-operator-crds": (True, False), "kube-prometheus-stack": (True, False),
                        "loki": (False, True)}


def test_the_stack_switches_turn_recovery_on_for_every_component(tmp_path):
    plan = _plan(tmp_path, stack_roles=["loki", "alloy", "uptime_kuma"], stack_recover_pending=True,
                 stack_rollback_on_failure=True)
    assert [(c["name"], c["recover_pending"], c["rollback_on_failure"]) for c in plan] == [
        ("loki", True, True), ("alloy", True, True), ("uptime-kuma", True, True)]


def test_pruning_is_on_by_default(plan):
    assert all("prune" not in c for c in plan)


def test_stack_prune_false_turns_pruning_off_for_every_component(tmp_path):
    plan = _plan(tmp_path, stack_roles=["exportarr", "loki"], stack_prune=False)
    assert sorted((c["name"], c.get("prune")) for c in plan) == [("exportarr", False), ("loki", False)]


def test_component_prune_false_reaches_the_manifests_components(tmp_path):
    plan = _plan(tmp_path, stack_roles=["exportarr", "uptime_kuma"], component_prune=False)
    assert sorted((c["name"], c.get("prune")) for c in plan) == [("exportarr", False), ("uptime-kuma", False)]


def test_recreate_immutable_is_off_unless_a_role_or_the_stack_turns_it_on(tmp_path):
    plan = _plan(tmp_path, stack_roles=["loki", "uptime_kuma"], loki_recreate_immutable=True)
    assert [(c["name"], c["recreate_immutable"]) for c in plan] == [("loki", True), ("uptime-kuma", False)]
    plan = _plan(tmp_path, stack_roles=["loki", "uptime_kuma"], stack_recreate_immutable=True)
    assert [(c["name"], c["recreate_immutable"]) for c in plan] == [("loki", True), ("uptime-kuma", True)]
