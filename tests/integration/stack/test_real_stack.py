"""The stack as `make lab` deploys it: playbooks/deploy.yml with inventory/lab and the real pinned
chart archives (make charts), on the lab. Every wave must become healthy (the Prometheus and
Alertmanager CRs through the real operator the lab runs), and a rerun must change nothing and send
no write request. Prints the per-wave times of both runs."""

import json

import pytest

from .deploy_playbook import charts_dir, deploy, wave_seconds

EXPECTED_WAVES = {
    -2: {"prometheus-operator-crds"},
    -1: {"kube-prometheus-stack", "loki"},
    0: {"alloy"},
}


def _table(label, result, elapsed):
    rows = ["%s: %.1fs in all" % (label, elapsed)]
    for wave, (seconds, components) in wave_seconds(result).items():
        rows.append("  wave %3s %6.1fs  %s" % (wave, seconds, ", ".join(components)))
    return "\n".join(rows)


@pytest.fixture(scope="module")
def charts():
    directory = charts_dir()
    if not list(directory.glob("kube-prometheus-stack-*.tgz")):
        pytest.fail("no chart archives in %s: run `make charts`" % directory, pytrace=False)
    return directory


def test_the_real_stack_becomes_healthy_and_a_rerun_writes_nothing(lab, charts):
    rc, first, _stats, first_s = deploy(lab.env())
    assert rc == 0, json.dumps({k: first.get(k) for k in ("msg", "waves")}, indent=1)[-4000:]
    for name, outcome in first["components"].items():
        assert outcome["health"] == "Healthy", (name, outcome.get("msg"), outcome.get("diagnosis"))
    by_wave = {w["wave"]: set(w["components"]) for w in first["waves"]}
    for wave, names in EXPECTED_WAVES.items():
        assert names <= by_wave[wave], (wave, by_wave)
    assert [w["wave"] for w in first["waves"]] == sorted(by_wave)

    since = lab.now()
    rc, second, stats, second_s = deploy(lab.env())
    assert rc == 0, second.get("msg")
    changed = sorted(name for name, outcome in second["components"].items() if outcome["changed"])
    assert changed == [], "a rerun with nothing to change changed %s" % changed
    assert stats["localhost"]["changed"] == 0
    writes = lab.write_requests(since, user=lab.admin_user)
    assert writes == [], lab.describe(writes)
    crds_rerun = second["components"]["prometheus-operator-crds"]["duration"]
    print("\n" + _table("first deploy", first, first_s) + "\n" + _table("rerun", second, second_s)
          + "\n  writes in the rerun: %d; the CRD release's no-op check: %.1fs" % (len(writes), crds_rerun))
