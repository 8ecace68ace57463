"""tools/lab/monitoring's generated configuration, validated by Debian's promtool and amtool."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools" / "lab"))

from monitoring import config as cfg  # noqa: E402
from monitoring.verify_vars import verify_vars  # noqa: E402

PORTS = {"prometheus": 19090, "alertmanager": 19093, "node_exporter": 19100}


def _tool(name):
    path = shutil.which(name)
    if not path:
        pytest.skip("%s is not installed (tools/install-debian-deps.sh installs it)" % name)
    return path


def test_prometheus_config_and_rules_pass_promtool(tmp_path):
    for name in ("ca.crt", "admin.crt", "admin.key", "token"):
        (tmp_path / name).write_text("x")
    api_cert = cfg.ApiserverScrape("https://127.0.0.1:6443", ca_file=str(tmp_path / "ca.crt"),
                                   cert_file=str(tmp_path / "admin.crt"), key_file=str(tmp_path / "admin.key"))
    config = cfg.prometheus_config(PORTS, "2s", "127.0.0.1:18080", api_cert)
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert jobs == ["prometheus", "alertmanager", "node-exporter", "kube-state-metrics", "apiserver"]
    apiserver = config["scrape_configs"][-1]
    assert apiserver["scheme"] == "https" and apiserver["static_configs"] == [{"targets": ["127.0.0.1:6443"]}]
    (tmp_path / "prometheus.yml").write_text(cfg.dump(config))
    (tmp_path / "rules.yml").write_text(cfg.dump(cfg.rules()))
    proc = subprocess.run([_tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    token = cfg.ApiserverScrape("https://127.0.0.1:6443", ca_file=str(tmp_path / "ca.crt"),
                                token_file=str(tmp_path / "token"))
    job = cfg.prometheus_config(PORTS, "2s", None, token)["scrape_configs"][-1]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": str(tmp_path / "token")}


def test_alertmanager_config_passes_amtool(tmp_path):
    (tmp_path / "alertmanager.yml").write_text(cfg.dump(cfg.alertmanager_config()))
    proc = subprocess.run([_tool("amtool"), "check-config", str(tmp_path / "alertmanager.yml")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


class Stack:
    prometheus_url = "http://127.0.0.1:19090"
    alertmanager_url = "http://127.0.0.1:19093"
    ports = PORTS
    retention = "15d"

    def __init__(self, jobs):
        self.jobs = jobs


def test_verify_vars_skip_what_the_lab_simulates_and_name_the_reason():
    data = verify_vars(Stack(["prometheus", "alertmanager", "node-exporter", "apiserver"]), report_dir=".lab/report")
    assert data["verify_prometheus_access"] == {"url": "http://127.0.0.1:19090"}
    assert data["verify_report_dir"] == ".lab/report"
    skip = data["verify_skip"]
    for group in ("loki", "grafana", "vpa", "http", "prometheus.targets.kubelet",
                  "prometheus.targets.exportarr-sonarr"):
        assert skip[group]
    # kube-state-metrics is not scraped in this stack: its check is skipped with that reason, not dropped
    assert "not built" in skip["prometheus.targets.kube-state-metrics"]
    assert {"name": "apiserver", "job": "apiserver"} in data["verify_prometheus_jobs"]
    with_ksm = verify_vars(Stack(["prometheus", "alertmanager", "node-exporter", "kube-state-metrics"]))
    assert "prometheus.targets.kube-state-metrics" not in with_ksm["verify_skip"]
