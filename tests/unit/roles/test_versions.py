"""tools/check_versions.py: the lock file and the role defaults agree, and it notices when not."""

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("check_versions", ROOT / "tools" / "check_versions.py")
check_versions = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_versions)


def test_the_repository_is_consistent():
    assert check_versions.check() == []


@pytest.fixture
def copy(tmp_path):
    shutil.copytree(ROOT / "roles", tmp_path / "roles", ignore=shutil.ignore_patterns("files", "templates"))
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "versions.md", tmp_path / "docs" / "versions.md")
    shutil.copy(ROOT / "charts.lock.yml", tmp_path / "charts.lock.yml")
    (tmp_path / "tools" / "lab").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "lab" / "versions.env", tmp_path / "tools" / "lab" / "versions.env")
    return tmp_path


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_bumped_default_without_the_lock_fails(copy):
    _edit(copy / "roles/loki/defaults/main.yml", "loki_chart_version: 6.55.0", "loki_chart_version: 6.56.0")
    assert any("loki_chart_version is 6.55.0" in p for p in check_versions.check(copy))


def test_latest_is_refused(copy):
    _edit(copy / "roles/uptime_kuma/defaults/main.yml", "uptime_kuma_image_tag: 2.2.1", "uptime_kuma_image_tag: latest")
    _edit(copy / "docs/versions.md", "| 2.2.1 |", "| latest |")
    assert any("pin a real version" in p for p in check_versions.check(copy))


def test_a_pin_missing_from_the_lock_fails(copy):
    text = (copy / "docs/versions.md").read_text()
    kept = [row for row in text.splitlines() if "`vpa_chart_version`" not in row]
    (copy / "docs/versions.md").write_text("\n".join(kept))
    assert any("no row for vpa_chart_version" in p for p in check_versions.check(copy))


def test_a_chart_lock_that_disagrees_with_the_role_fails(copy):
    _edit(copy / "charts.lock.yml", "version: 6.55.0", "version: 6.56.0")
    assert any("loki says 6.56.0 but the role default loki_chart_version is '6.55.0'" in p
               for p in check_versions.check(copy))


def test_a_pinned_chart_missing_from_the_chart_lock_fails(copy):
    text = (copy / "charts.lock.yml").read_text()
    (copy / "charts.lock.yml").write_text(text[: text.index("  - name: goldilocks")])
    assert any("no chart for goldilocks_chart_version" in p for p in check_versions.check(copy))


def test_a_lab_operator_other_than_the_charts_fails(copy):
    _edit(copy / "tools/lab/versions.env", "PROMETHEUS_OPERATOR_VERSION=v0.93.1", "PROMETHEUS_OPERATOR_VERSION=v0.94.0")
    assert any("PROMETHEUS_OPERATOR_VERSION is v0.94.0" in p for p in check_versions.check(copy))
