"""Shared by the tests that deploy the stack on the lab."""

import pytest

from .deploy_playbook import charts_dir


@pytest.fixture(scope="module")
def charts():
    """The local chart mirror `make charts` fills; the deploy reads the pinned archives from it."""
    directory = charts_dir()
    if not list(directory.glob("kube-prometheus-stack-*.tgz")):
        pytest.fail("no chart archives in %s: run `make charts`" % directory, pytrace=False)
    return directory
