"""A local chart mirror stands in for the repository, and says exactly what it looked for."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.helm import mirror
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError

CHART = {"ref": "kube-prometheus-stack", "repo_url": "https://prometheus-community.github.io/helm-charts",
         "version": "88.5.3"}


def test_no_mirror_leaves_the_chart_as_it_is():
    assert mirror.resolve(CHART, None) is CHART
    assert mirror.resolve(CHART, "") is CHART


def test_repository_chart_comes_from_the_mirror_archive(tmp_path):
    archive = tmp_path / "kube-prometheus-stack-88.5.3.tgz"
    archive.write_bytes(b"x")
    assert mirror.resolve(CHART, str(tmp_path)) == {"ref": str(archive), "version": "88.5.3"}


@pytest.mark.parametrize("ref", ["prometheus-community/kube-prometheus-stack",
                                 "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack"])
def test_the_chart_name_is_the_last_part_of_the_reference(tmp_path, ref):
    (tmp_path / "kube-prometheus-stack-88.5.3.tgz").write_bytes(b"x")
    assert mirror.resolve(dict(CHART, ref=ref), str(tmp_path))["ref"].endswith("kube-prometheus-stack-88.5.3.tgz")


def test_missing_archive_names_chart_version_and_path(tmp_path):
    (tmp_path / "kube-prometheus-stack-88.5.2.tgz").write_bytes(b"x")
    with pytest.raises(KubeError) as err:
        mirror.resolve(CHART, str(tmp_path))
    msg = str(err.value)
    assert "kube-prometheus-stack version 88.5.3" in msg
    assert str(tmp_path / "kube-prometheus-stack-88.5.3.tgz") in msg


def test_a_mirror_needs_a_pinned_version(tmp_path):
    with pytest.raises(KubeError, match="pin chart.version"):
        mirror.resolve({"ref": "loki"}, str(tmp_path))


def test_local_charts_are_used_as_they_are(tmp_path):
    local = {"ref": str(tmp_path), "version": "1.0.0"}
    assert mirror.resolve(local, "/nonexistent") is local
