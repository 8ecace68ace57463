"""The waves module on the lab: wave order proven from timestamps (the module's and the
apiserver's audit log), a stop at an unhealthy wave, and check mode across waves."""

import datetime

import pytest
from deploy_helpers import CHARTS, crds_for, writes_in

pytestmark = pytest.mark.lab


def ts(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def stack(namespace, helm):
    def chart(name, wave, **extra):
        return dict({"name": name, "wave": wave, "namespace": namespace, "chart": {"ref": str(CHARTS / name)},
                     "binary_path": helm}, **extra)

    return [
        chart("loki-like", -1),
        chart("operator-like", -1),
        chart("node-exporter-like", 0),
        chart("grafana-like", 1),
        {"name": "dashboards", "wave": 1, "namespace": namespace,
         "manifests": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "capacity"},
                        "data": {"a": "1"}}]},
    ]


def test_waves_in_order_then_noop(lab, run, namespace, helm_paths):
    since = lab.now()
    result = run("waves", {"components": stack(namespace, helm_paths["v3"]), "wave_timeout": 180})
    assert not result.get("failed"), result.get("msg")
    assert [w["wave"] for w in result["waves"]] == [-1, 0, 1]
    assert all(w["healthy"] for w in result["waves"])
    comps = result["components"]
    for earlier, later in ((-1, 0), (0, 1)):
        done = max(ts(c["finished_at"]) for c in comps.values() if c["wave"] == earlier)
        begun = min(ts(c["started_at"]) for c in comps.values() if c["wave"] == later)
        assert done <= begun, (earlier, later)
    # the apiserver saw no write for a wave-1 object before every wave -1 object was healthy
    wave_minus_1_done = max(ts(c["finished_at"]) for c in comps.values() if c["wave"] == -1)
    first_write = {}
    for event in writes_in(lab, since, namespace):
        name = (event.get("objectRef") or {}).get("name") or ""
        stamp = ts(event["requestReceivedTimestamp"])
        first_write[name] = min(first_write.get(name, stamp), stamp)
    assert first_write["grafana-like"] > wave_minus_1_done
    assert first_write["capacity"] > wave_minus_1_done
    assert first_write["node-exporter-like"] > wave_minus_1_done
    # wave -1 ran its two components side by side
    a, b = comps["loki-like"], comps["operator-like"]
    assert ts(a["started_at"]) < ts(b["finished_at"]) and ts(b["started_at"]) < ts(a["finished_at"])
    rows = result["timing_table"]
    assert [r["component"] for r in rows] == ["loki-like", "operator-like", "node-exporter-like", "dashboards",
                                             "grafana-like"]

    since = lab.now()
    again = run("waves", {"components": stack(namespace, helm_paths["v4"]), "wave_timeout": 180})
    assert not again["changed"] and not again.get("failed"), again.get("msg")
    writes = writes_in(lab, since, namespace)
    assert writes == [], lab.describe(writes)
    # the deploy lock is taken by the first write: a run with nothing to do takes none, so it writes nothing at all
    assert not {"POST", "PUT", "PATCH", "DELETE"} & set(again["api_requests"]), again["api_requests"]


def test_waves_stop_at_an_unhealthy_wave(run, namespace, helm_paths):
    comps = [
        {"name": "never-ready", "wave": 0, "namespace": namespace, "chart": {"ref": str(CHARTS / "never-ready")},
         "binary_path": helm_paths["v4"]},
        {"name": "later", "wave": 1, "namespace": namespace,
         "manifests": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "later"}}]},
    ]
    result = run("waves", {"components": comps, "wave_timeout": 6})
    assert result.get("failed") and "wave 0 did not become healthy" in result["msg"]
    assert "not started: later" in result["msg"]
    assert result["components"]["later"]["health"] == "not_started"
    assert any("didn't match Pod's node affinity/selector" in line
               for line in result["components"]["never-ready"]["diagnosis"])


def test_check_mode_plans_later_waves_whose_crds_are_not_applied(lab, run, namespace, helm_paths):
    crds = crds_for(namespace)
    comps = [
        {"name": "crds", "wave": -1, "namespace": namespace, "manifests": crds},
        {"name": "monitors", "wave": 1, "namespace": namespace,
         "manifests": [{"apiVersion": namespace + ".homelab.local/v1", "kind": "ServiceMonitor",
                        "metadata": {"name": "sonarr"}, "spec": {"endpoints": [{"port": "metrics"}]}}]},
        {"name": "grafana", "wave": 1, "namespace": namespace, "chart": {"ref": str(CHARTS / "grafana-like")},
         "binary_path": helm_paths["v3"]},
    ]
    since = lab.now()
    result = run("waves", {"components": comps}, check=True, diff=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and [w["wave"] for w in result["waves"]] == [-1, 1]
    monitors = result["components"]["monitors"]["diff"]
    assert monitors[-1]["kind"] == "ServiceMonitor" and monitors[-1]["action"] == "create"
    # server-side dry runs (dryRun=All) are how the plan is made; nothing else may reach the apiserver
    writes = writes_in(lab, since, namespace, [c["metadata"]["name"] for c in crds], include_dry_run=False)
    assert writes == [], lab.describe(writes)
