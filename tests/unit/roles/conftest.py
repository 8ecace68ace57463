"""Renders the stack roles through ansible-playbook (their real defaults, vars and templates).

`render(roles, **extra_vars)` runs tests/unit/roles/render.yml once per distinct input and returns
{role: [component, ...]}. The playbook includes each role with `component_render_only: true`, the same
path playbooks/deploy.yml takes, so no module touches a cluster.
"""

import json

import pytest

from .rendering import ROLES, ROOT, playbook_bin, render_roles


@pytest.fixture(scope="session")
def render(tmp_path_factory):
    if not playbook_bin():
        pytest.skip("ansible-playbook is not installed")
    cache = {}

    def _render(roles=None, **extra_vars):
        roles = list(roles or [r for r in ROLES if (ROOT / "roles" / r).is_dir()])
        key = json.dumps([roles, extra_vars], sort_keys=True)
        if key not in cache:
            cache[key] = render_roles(roles, tmp_path_factory.mktemp("render"), **extra_vars)
        return cache[key]

    return _render


def component(components, name):
    """The component called `name` from a role's component list."""
    for item in components:
        if item["name"] == name:
            return item
    raise AssertionError("no component %r in %s" % (name, [c["name"] for c in components]))


def manifests_by_kind(comp):
    """{(kind, name): object} of a manifest component."""
    return {(m["kind"], m["metadata"]["name"]): m for m in comp.get("manifests", [])}
