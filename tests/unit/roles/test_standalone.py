"""Each component role used alone reaches homelab.observability.waves (the module roles/stack calls)
with well-formed arguments, the same component spec the stack renders, and without a single warning.

No cluster is needed: the kubeconfig does not exist, so the module refuses it after Ansible has
finalized every argument (a role that passes a bad value fails earlier, with a templating error).
The json callback gives each loop item's final module arguments.
"""

import importlib.util
import json
import re

import pytest
import yaml

from .rendering import ROLES, ROOT, run_playbook

BAD = "/nonexistent/homelab-observability/kubeconfig"
HELM = "/opt/homelab-observability-test/helm"
_spec = importlib.util.spec_from_file_location("gen_role_docs", ROOT / "tools" / "gen_role_docs.py")
gen_role_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_role_docs)
# A warning printed by Ansible ("[WARNING]: ...") or returned by a module.
WARNING = re.compile(r"^\[WARNING\]", re.M)


def has_helm_binary_variable(role):
    return "%s_helm_binary_path" % role in yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())


def renders_charts(role):
    """Whether any of the role's components is a Helm chart (manifest-only roles run no helm)."""
    return "chart_ref" in (ROOT / "roles" / role / "defaults" / "main.yml").read_text()


def run_alone(role, **extra_vars):
    extra = {"standalone_role": role, "%s_k8s_auth" % role: {"kubeconfig": BAD}, **extra_vars}
    proc = run_playbook("standalone.yml", extra, "--check", K8S_AUTH_KUBECONFIG="",
                        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    assert proc.stdout.lstrip().startswith("{"), proc.stdout[-2000:] + proc.stderr[-2000:]
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    return proc, [t["hosts"]["localhost"] for t in tasks]


def waves_components(results):
    """The arguments of each component the waves module was called with."""
    return [comp for result in results
            for comp in result.get("invocation", {}).get("module_args", {}).get("components") or []]


def test_role_alone_hands_recreate_immutable_to_the_module():
    _, results = run_alone("loki", loki_recreate_immutable=True)
    calls = waves_components(results)
    assert calls and all(a["recreate_immutable"] is True for a in calls)


@pytest.mark.parametrize("role", ROLES)
def test_role_alone_reaches_the_waves_module_without_a_warning(role):
    proc, results = run_alone(role)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Finalization of task args" not in output and "Error rendering template" not in output, output[-3000:]
    assert "kubeconfig %s does not exist" % BAD in output, output[-3000:]
    assert not WARNING.search(proc.stderr), proc.stderr[-3000:]
    module_warnings = [w for r in results for item in [r, *r.get("results", [])] for w in item.get("warnings", [])]
    assert not module_warnings
    assert waves_components(results), "no component reached homelab.observability.waves"


def test_the_warning_check_sees_the_warning_of_a_loop_variable_in_a_task_name(tmp_path):
    """What the roles did before: a task name templated with ``item`` before the loop has one."""
    playbook = tmp_path / "warns.yml"
    playbook.write_text(yaml.safe_dump([{"name": "warns", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Deploy {{ item.name }}", "ansible.builtin.debug": {"msg": "x"}, "loop": [{"name": "a"}]}]}]))
    proc = run_playbook(str(playbook), {})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert WARNING.search(proc.stderr), proc.stderr[-2000:]


@pytest.mark.parametrize("role", [r for r in ROLES if renders_charts(r)])
def test_role_alone_hands_its_helm_binary_to_the_waves_module(role):
    assert has_helm_binary_variable(role)
    _, results = run_alone(role, **{"%s_helm_binary_path" % role: HELM})
    calls = waves_components(results)
    assert calls and all(c["binary_path"] == HELM for c in calls)
    # unset, the module looks for helm on PATH
    _, results = run_alone(role)
    assert all(c.get("binary_path") is None for c in waves_components(results))


@pytest.mark.parametrize("role", sorted(p.parent.name for p in (ROOT / "roles").glob("*/README.md")))
def test_readme_usage_example_is_a_valid_playbook(role, tmp_path):
    example = gen_role_docs.usage_example((ROOT / "roles" / role / "README.md").read_text())
    assert example, role
    playbook = tmp_path / "example.yml"
    playbook.write_text(example)
    proc = run_playbook(str(playbook), {}, "--syntax-check")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("role", [r for r in ROLES if renders_charts(r)])
def test_role_alone_hands_its_recovery_switches_to_the_waves_module(role):
    _, results = run_alone(role, **{"%s_recover_pending" % role: True, "%s_rollback_on_failure" % role: True})
    charts = [c for c in waves_components(results) if c.get("chart")]
    assert charts and all(a["recover_pending"] is True and a["rollback_on_failure"] is True for a in charts)


@pytest.mark.parametrize("role", ROLES)
def test_role_alone_hands_the_waves_module_the_spec_the_stack_renders(role, render):
    """One spec, one module: every key the stack path gets (values, manifests, recover_pending, ...)
    reaches the module when the role deploys alone, none dropped or renamed."""
    _, results = run_alone(role)
    rendered = render([role])[role]
    assert {c["name"]: c for c in waves_components(results)} == {c["name"]: c for c in rendered}


def waves_args(results):
    """The waves module's own arguments (the task that has a lock_timeout)."""
    return [r["invocation"]["module_args"] for r in results
            if "lock_timeout" in r.get("invocation", {}).get("module_args", {})]


@pytest.mark.parametrize(("role", "prefix"), [("loki", "component"), ("stack", "stack")])
def test_the_lock_options_reach_the_waves_module(role, prefix):
    _, results = run_alone(role, **{"%s_lock_timeout" % prefix: 0, "%s_lock_namespace" % prefix: "locks",
                                    "%s_lock" % prefix: False})
    assert [(a["lock"], a["lock_timeout"], a["lock_namespace"]) for a in waves_args(results)] == [(False, 0, "locks")]
    # unset: the lock is on, waits ten minutes, and lives in the first component's namespace
    _, results = run_alone(role)
    assert [(a["lock"], a["lock_timeout"], a["lock_namespace"]) for a in waves_args(results)] == [(True, 600, None)]
