"""Every health predicate against YAML fixtures (tests/unit/kube/fixtures/health/*.yml)."""

from pathlib import Path

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.kube import health as h

FIXTURES = Path(__file__).parent / "fixtures" / "health"


def _cases():
    for path in sorted(FIXTURES.glob("*.yml")):
        for case in yaml.safe_load(path.read_text()):
            yield pytest.param(case, id=case["id"])


@pytest.mark.parametrize("case", list(_cases()))
def test_predicate(case):
    result = h.health(case["object"], case.get("context"))
    assert result.status == case["expect"], result.message
    assert result.final == case.get("final", False)
    assert isinstance(result.message, str)
    if "message" in case:
        assert result.message == case["message"]


def test_every_kind_with_a_predicate_has_fixtures():
    kinds = {c.values[0]["object"]["kind"] for c in _cases()}
    assert {kind for _, kind in h.PREDICATES} <= kinds


def test_missing_object():
    assert h.health(None).status == h.MISSING


def test_malformed_object_is_unknown():
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two"},
        "status": {"updatedReplicas": 1},
    }
    assert h.health(obj).status == h.UNKNOWN


@pytest.mark.parametrize(
    ("statuses", "expect"),
    [
        ([], h.HEALTHY),
        ([h.HEALTHY, h.HEALTHY], h.HEALTHY),
        ([h.HEALTHY, h.PROGRESSING], h.PROGRESSING),
        ([h.PROGRESSING, h.DEGRADED, h.MISSING], h.DEGRADED),
        ([h.SUSPENDED, h.HEALTHY], h.SUSPENDED),
        ([h.MISSING, h.PROGRESSING], h.MISSING),
    ],
)
def test_worst(statuses, expect):
    assert h.worst(statuses) == expect


def test_pvc_needs_storage_class_context():
    assert h.needs_context({"apiVersion": "v1", "kind": "PersistentVolumeClaim"}) == ("storage_class",)
    assert h.needs_context({"apiVersion": "apps/v1", "kind": "Deployment"}) == ()
    assert h.needs_context({"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus"}) == ("statefulsets",)


def test_pvc_names_its_missing_storage_class():
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d"},
             "spec": {"storageClassName": "nfs"}, "status": {"phase": "Pending"}}
    assert h.health(claim, {"storage_class": None}).message == "claim is Pending: StorageClass 'nfs' does not exist"
