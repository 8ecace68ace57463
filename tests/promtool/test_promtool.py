"""promtool check rules / promtool test rules on the alert rules the kube_prometheus_stack role renders.

promtool is the pinned Prometheus's (`bash tools/lab/build.sh promtool`, part of make lab-build), so the rules
are parsed as the running Prometheus parses them; without it, the Debian package `prometheus`'s
(tools/install-debian-deps.sh).
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
_spec = importlib.util.spec_from_file_location("rendering", ROOT / "tests" / "unit" / "roles" / "rendering.py")
rendering = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rendering)

sys.path.insert(0, str(ROOT / "tools" / "lab"))
from labctl.paths import Binaries  # noqa: E402

PINNED = Binaries.discover().promtool
PROMTOOL = str(PINNED) if PINNED.is_file() else shutil.which("promtool")
pytestmark = pytest.mark.skipif(not PROMTOOL, reason="promtool missing: run tools/lab/build.sh promtool")


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("promtool")
    components = rendering.render_roles(["kube_prometheus_stack"], workdir / "render")["kube_prometheus_stack"]
    groups = rendering.alert_rule_groups(components)
    (workdir / "rules.yml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    shutil.copy(HERE / "rules_test.yml", workdir / "rules_test.yml")
    return workdir


def _promtool(*args, cwd):
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_promtool_check_rules(rules_dir):
    proc = _promtool("check", "rules", "rules.yml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 14 rules found" in proc.stdout + proc.stderr


def test_promtool_test_rules(rules_dir):
    proc = _promtool("test", "rules", "rules_test.yml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_rule_has_a_test():
    tests = yaml.safe_load((HERE / "rules_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    recorded = {case["expr"] for test in tests for case in test.get("promql_expr_test", [])}
    assert any("vpa_status_recommendation" in expr for expr in recorded)
    assert tested == {"HomelabTargetDown", "HomelabLokiDown", "HomelabAlloyDown",
                      "HomelabAlloyDaemonSetIncomplete", "HomelabMonitoringPVCFillingUp",
                      "HomelabMonitoringPVCFillsSoon"}
