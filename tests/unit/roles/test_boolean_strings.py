"""Every boolean of every stack role means what it says however it arrives: `-e name=false` hands
the role the string "false", which a bare `{% if name %}` takes as true."""

import pytest
import yaml

from .rendering import ROLES, ROOT


def _booleans():
    names = []
    for role in ROLES:
        spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for entry in spec["argument_specs"].values():
            for name, option in entry.get("options", {}).items():
                # <role>_deploy picks the tasks, not the rendering; render.yml pins it to false.
                if option.get("type") == "bool" and not name.endswith("_deploy"):
                    names.append(name)
    return names


BOOLEANS = _booleans()


def test_the_stack_roles_have_booleans_to_check():
    assert "kube_prometheus_stack_crds_separate" in BOOLEANS
    assert "alloy_audit_enabled" in BOOLEANS
    assert len(BOOLEANS) >= 20


@pytest.mark.parametrize("value", [False, True])
def test_a_boolean_given_as_a_string_renders_as_the_boolean(render, value):
    as_bool = render(**{name: value for name in BOOLEANS})
    as_text = render(**{name: str(value).lower() for name in BOOLEANS})
    for role in as_bool:
        assert as_text[role] == as_bool[role], "%s renders differently for %r and %r" % (
            role, value, str(value).lower())


def _stack_and_alloy(rendered):
    stack = next(c for c in rendered["kube_prometheus_stack"] if c["name"] == "kube-prometheus-stack")
    return stack["values"], rendered["alloy"][0]["values"]["alloy"]["configMap"]["content"]


def test_false_as_a_string_turns_things_off(render):
    stack, alloy = _stack_and_alloy(render(["kube_prometheus_stack", "alloy"]))
    assert stack["alertmanager"]["enabled"] is True
    assert 'local.file_match "audit"' in alloy
    stack, alloy = _stack_and_alloy(render(["kube_prometheus_stack", "alloy"],
                                           kube_prometheus_stack_alertmanager_enabled="false",
                                           alloy_audit_enabled="false"))
    assert stack["alertmanager"]["enabled"] is False
    assert 'local.file_match "audit"' not in alloy


def test_crds_not_separate_leaves_the_charts_own_crds_on(render):
    for value in (False, "false"):
        rendered = render(["kube_prometheus_stack"], kube_prometheus_stack_crds_separate=value)["kube_prometheus_stack"]
        names = [c["name"] for c in rendered]
        stack = next(c for c in rendered if c["name"] == "kube-prometheus-stack")
        assert "prometheus-operator-crds" not in names
        assert stack["values"]["crds"]["enabled"] is True
