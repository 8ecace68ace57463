"""The stack as `make lab` deploys it: playbooks/deploy.yml with inventory/lab and the real pinned
chart archives (make charts), on the lab. Every wave must become healthy (the Prometheus and
Alertmanager CRs through the real operator the lab runs), and a rerun must change nothing and send
no write request. Prints the per-wave times of both runs."""

import base64
import gzip
import json

import yaml

from .deploy_playbook import deploy, wave_seconds

EXPECTED_WAVES = {
    -2: {"prometheus-operator-crds"},
    -1: {"kube-prometheus-stack", "loki"},
    0: {"alloy"},
    1: {"vpa"},
    2: {"goldilocks"},
}


def _table(label, result, elapsed):
    rows = ["%s: %.1fs in all" % (label, elapsed)]
    for wave, (seconds, components) in wave_seconds(result).items():
        rows.append("  wave %3s %6.1fs  %s" % (wave, seconds, ", ".join(components)))
    return "\n".join(rows)


def _assert_the_plan_and_the_final_table_are_shown(result):
    plan = next(m for name, m in result["messages"].items() if name.startswith("Show the plan ("))
    assert plan[0] == "wave -2: prometheus-operator-crds" and plan[-1] == "wave 2: goldilocks", plan
    table = next(m for name, m in result["messages"].items() if name.startswith("Show how each component ended"))
    assert len(table) == len(result["components"]), table
    assert all(row.startswith("wave ") and "Healthy" in row and row.endswith(" s") for row in table), table


def _assert_the_vpa_crd_came_before_goldilocks(lab):
    from kubernetes import client  # noqa: PLC0415 - only this test needs the client

    api = lab.api_client()
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition("verticalpodautoscalers.autoscaling.k8s.io")
    controller = client.AppsV1Api(api).read_namespaced_deployment("goldilocks-controller", "monitoring")
    assert crd.metadata.creation_timestamp <= controller.metadata.creation_timestamp


def _assert_the_operator_configured_the_seed_retention(lab):
    """The configuration the real operator generated for Prometheus carries 15d and the size limit."""
    from kubernetes import client  # noqa: PLC0415 - only this test needs the client

    secret = client.CoreV1Api(lab.api_client()).read_namespaced_secret(
        "prometheus-kube-prometheus-stack-prometheus", "monitoring")
    config = yaml.safe_load(gzip.decompress(base64.b64decode(secret.data["prometheus.yaml.gz"])))
    assert config["storage"]["tsdb"]["retention"] == {"time": "15d", "size": "16GB"}


def test_the_real_stack_becomes_healthy_and_a_rerun_writes_nothing(lab, charts):
    rc, first, _stats, first_s = deploy(lab.env())
    assert rc == 0, json.dumps({k: first.get(k) for k in ("msg", "waves")}, indent=1)[-4000:]
    for name, outcome in first["components"].items():
        assert outcome["health"] == "Healthy", (name, outcome.get("msg"), outcome.get("diagnosis"))
    by_wave = {w["wave"]: set(w["components"]) for w in first["waves"]}
    for wave, names in EXPECTED_WAVES.items():
        assert names <= by_wave[wave], (wave, by_wave)
    assert [w["wave"] for w in first["waves"]] == sorted(by_wave)
    _assert_the_plan_and_the_final_table_are_shown(first)
    _assert_the_vpa_crd_came_before_goldilocks(lab)
    _assert_the_operator_configured_the_seed_retention(lab)

    since = lab.now()
    rc, second, stats, second_s = deploy(lab.env())
    assert rc == 0, second.get("msg")
    changed = sorted(name for name, outcome in second["components"].items() if outcome["changed"])
    assert changed == [], "a rerun with nothing to change changed %s" % changed
    assert stats["localhost"]["changed"] == 0
    # nothing at all, the deploy lock included (the first write of a run takes it)
    writes = lab.write_requests(since, user=lab.admin_user)
    assert writes == [], lab.describe(writes)
    crds_rerun = second["components"]["prometheus-operator-crds"]["duration"]
    print("\n" + _table("first deploy", first, first_s) + "\n" + _table("rerun", second, second_s)
          + "\n  writes in the rerun: %d; the CRD release's no-op check: %.1fs" % (len(writes), crds_rerun))
