"""Golden tests: Loki single binary, filesystem, 168h retention by the compactor, 10Gi nfs-client."""

import pytest


@pytest.fixture(scope="module")
def loki(render):
    (comp,) = render(["loki"])["loki"]
    return comp


def test_release_source_and_wave(loki):
    assert loki["name"] == "loki"
    assert loki["wave"] == -1
    assert loki["namespace"] == "monitoring"
    assert loki["chart"] == {"ref": "loki", "repo_url": "https://grafana.github.io/helm-charts", "version": "6.55.0"}


def test_single_binary_mode(loki):
    values = loki["values"]
    assert values["deploymentMode"] == "SingleBinary"
    assert values["singleBinary"]["replicas"] == 1
    for scalable in ("backend", "read", "write", "ingester", "querier", "distributor", "compactor"):
        assert values[scalable]["replicas"] == 0
    assert values["loki"]["commonConfig"]["replication_factor"] == 1


def test_filesystem_storage(loki):
    values = loki["values"]
    assert values["loki"]["storage"]["type"] == "filesystem"
    (schema,) = values["loki"]["schemaConfig"]["configs"]
    assert schema["object_store"] == "filesystem"
    assert schema["store"] == "tsdb"
    assert schema["schema"] == "v13"
    assert values["minio"]["enabled"] is False


def test_retention_168h_enforced_by_the_compactor(loki):
    loki_cfg = loki["values"]["loki"]
    assert loki_cfg["limits_config"]["retention_period"] == "168h"
    assert loki_cfg["compactor"]["retention_enabled"] is True
    assert loki_cfg["compactor"]["delete_request_store"] == "filesystem"


def test_pvc_10gi_nfs_client(loki):
    persistence = loki["values"]["singleBinary"]["persistence"]
    assert persistence == {"enabled": True, "storageClass": "nfs-client", "size": "10Gi"}


def test_scraped_through_pod_annotations_as_job_loki(loki):
    annotations = loki["values"]["singleBinary"]["podAnnotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "3100"
    assert annotations["prometheus.io/job"] == "loki"


def test_no_extra_services_a_homelab_does_not_need(loki):
    values = loki["values"]
    for off in ("gateway", "chunksCache", "resultsCache", "lokiCanary", "test"):
        assert values[off]["enabled"] is False
