"""tools/charts.py (make charts): the archives of charts.lock.yml, checked, and clear errors."""

import hashlib
import importlib.util
import io
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("charts_tool", ROOT / "tools" / "charts.py")
charts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(charts)


def _archive(directory, name, version, app_version="1.0"):
    path = Path(directory) / ("%s-%s.tgz" % (name, version))
    text = ("apiVersion: v2\nname: %s\nversion: %s\nappVersion: %s\n" % (name, version, app_version)).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("%s/Chart.yaml" % name)
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mirror(tmp_path):
    directory = tmp_path / "mirror"
    directory.mkdir()
    _path, digest = _archive(directory, "demo", "1.2.3")
    entry = {"name": "demo", "version": "1.2.3", "repo": "https://example.invalid", "sha256": digest,
             "app_version": "1.0"}
    return directory, entry


def test_an_archive_is_copied_from_the_mirror_then_kept(tmp_path, mirror):
    directory, entry = mirror
    dest = tmp_path / "dest"
    assert charts.fetch([entry], dest, mirror=directory) == [
        ("demo-1.2.3.tgz", "copied from %s" % (directory / "demo-1.2.3.tgz"))]
    assert charts.sha256(dest / "demo-1.2.3.tgz") == entry["sha256"]
    assert charts.fetch([entry], dest, mirror=directory) == [("demo-1.2.3.tgz", "kept")]
    assert sorted(p.name for p in dest.iterdir()) == ["demo-1.2.3.tgz"]


def test_a_wrong_digest_names_chart_version_and_source_and_writes_nothing(tmp_path, mirror):
    directory, entry = mirror
    dest = tmp_path / "dest"
    with pytest.raises(charts.ChartError, match=r"demo 1\.2\.3 from .*mirror/demo-1\.2\.3\.tgz has sha256 .* pins 0+"):
        charts.fetch([dict(entry, sha256="0" * 64)], dest, mirror=directory)
    assert list(dest.iterdir()) == []


def test_a_version_missing_from_the_mirror_says_what_the_mirror_has(tmp_path, mirror):
    directory, entry = mirror
    with pytest.raises(charts.ChartError, match=r"demo 9\.9\.9: not in the mirror .*it has demo-1\.2\.3\.tgz"):
        charts.fetch([dict(entry, version="9.9.9")], tmp_path / "dest", mirror=directory)


def test_an_app_version_other_than_the_lock_is_refused(tmp_path, mirror):
    directory, entry = mirror
    with pytest.raises(charts.ChartError, match=r"has appVersion 1\.0, but charts\.lock\.yml says 2\.0"):
        charts.fetch([dict(entry, app_version="2.0")], tmp_path / "dest", mirror=directory)


def test_without_mirror_or_helm_the_error_says_how_to_get_one(tmp_path, mirror):
    _directory, entry = mirror
    with pytest.raises(charts.ChartError, match="set CHARTS_MIRROR=dir or build helm"):
        charts.fetch([entry], tmp_path / "dest")


def test_the_lock_pins_every_chart_with_digest_and_app_version():
    entries = charts.load_lock()
    assert {e["name"] for e in entries} >= {"kube-prometheus-stack", "prometheus-operator-crds", "loki", "alloy",
                                           "vpa", "goldilocks"}
    for entry in entries:
        assert len(entry["sha256"]) == 64 and entry["app_version"]
