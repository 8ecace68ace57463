"""Fixtures of the kube unit tests: in-memory stand-ins for the API server."""

import pytest

from tests.fakes.kube_api import FakeApi


@pytest.fixture
def fake_api():
    """A factory: fake_api(objects, kinds) -> FakeApi."""
    return FakeApi
