"""Fixtures of the deploy engine's integration tests (helpers in deploy_helpers.py)."""

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deploy_helpers import Runner  # noqa: E402


@pytest.fixture
def run(lab):
    lab.wait_apiserver_ready(timeout=120)
    return Runner(lab)


@pytest.fixture
def namespace(lab):
    """A fresh namespace name; the namespace (and every release in it) is deleted afterwards."""
    name = "deploy-%s" % uuid.uuid4().hex[:8]
    yield name
    subprocess.run([str(lab.kubectl), "--kubeconfig", str(lab.kubeconfig), "delete", "namespace", name,
                    "--wait=false", "--ignore-not-found"], capture_output=True, check=False)


@pytest.fixture
def helm_paths(lab):
    return {"v3": str(lab.helm3), "v4": str(lab.helm4)}
