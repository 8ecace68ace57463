"""The stack as `make lab` deploys it: playbooks/deploy.yml with inventory/lab and the real pinned
chart archives (make charts), on the lab. Every wave must become healthy (the Prometheus and
Alertmanager CRs through the real operator the lab runs), and a rerun must change nothing and send
no write request. Prints the per-wave times of both runs."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXPECTED_WAVES = {
    -2: {"prometheus-operator-crds"},
    -1: {"kube-prometheus-stack", "loki"},
    0: {"alloy"},
}


def _charts_dir():
    cache = Path(os.environ.get("LAB_CACHE") or Path.home() / ".cache" / "homelab-observability")
    return Path(os.environ.get("LAB_CHARTS") or cache / "charts")


def _deploy(lab):
    env = lab.env() | {
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "LAB_CHARTS": str(_charts_dir()),
    }
    binary = Path(sys.executable).with_name("ansible-playbook")
    t0 = time.monotonic()
    proc = subprocess.run([str(binary), "-i", "inventory/lab", "playbooks/deploy.yml"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - t0
    try:
        doc = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError as exc:
        tail = (proc.stdout[-3000:], proc.stderr[-3000:])
        raise AssertionError("deploy.yml printed no JSON:\n%s\n%s" % tail) from exc
    for play in doc["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].endswith("Roll out the stack in waves"):
                return proc.returncode, task["hosts"]["localhost"], doc["stats"], elapsed
    raise AssertionError("no rollout task in deploy.yml's output (rc %s):\n%s" % (proc.returncode, proc.stderr[-3000:]))


def _table(label, result, elapsed):
    rows = ["%s: %.1fs in all" % (label, elapsed)]
    for wave in result.get("waves", []):
        rows.append("  wave %3s %6.1fs  %s" % (wave["wave"], wave["duration"], ", ".join(wave["components"])))
    return "\n".join(rows)


@pytest.fixture(scope="module")
def charts():
    directory = _charts_dir()
    if not list(directory.glob("kube-prometheus-stack-*.tgz")):
        pytest.fail("no chart archives in %s: run `make charts`" % directory, pytrace=False)
    return directory


def test_the_real_stack_becomes_healthy_and_a_rerun_writes_nothing(lab, charts):
    rc, first, _stats, first_s = _deploy(lab)
    assert rc == 0, json.dumps({k: first.get(k) for k in ("msg", "waves")}, indent=1)[-4000:]
    for name, outcome in first["components"].items():
        assert outcome["health"] == "Healthy", (name, outcome.get("msg"), outcome.get("diagnosis"))
    by_wave = {w["wave"]: set(w["components"]) for w in first["waves"]}
    for wave, names in EXPECTED_WAVES.items():
        assert names <= by_wave[wave], (wave, by_wave)
    assert [w["wave"] for w in first["waves"]] == sorted(by_wave)

    since = lab.now()
    rc, second, stats, second_s = _deploy(lab)
    assert rc == 0, second.get("msg")
    changed = sorted(name for name, outcome in second["components"].items() if outcome["changed"])
    assert changed == [], "a rerun with nothing to change changed %s" % changed
    assert stats["localhost"]["changed"] == 0
    writes = lab.write_requests(since, user=lab.admin_user)
    assert writes == [], lab.describe(writes)
    crds_rerun = second["components"]["prometheus-operator-crds"]["duration"]
    print("\n" + _table("first deploy", first, first_s) + "\n" + _table("rerun", second, second_s)
          + "\n  writes in the rerun: %d; the CRD release's no-op check: %.1fs" % (len(writes), crds_rerun))
