"""The deploy lock on the lab: two waves runs of the same releases at once. The second waits for the
first at its first write and names it, or (lock_timeout 0) is refused naming it; helm never sees two
installs of one release."""

import threading
import time

import pytest
from deploy_helpers import CHARTS
from kubernetes import client

pytestmark = pytest.mark.lab

LEASE = "homelab-observability-deploy"


def components(namespace, helm):
    def chart(name, wave):
        return {"name": name, "wave": wave, "namespace": namespace, "chart": {"ref": str(CHARTS / name)},
                "binary_path": helm}

    return [chart("loki-like", 0), chart("grafana-like", 0), chart("node-exporter-like", 1)]


def lease_holder(lab, namespace):
    try:
        return client.CoordinationV1Api(lab.api_client()).read_namespaced_lease(LEASE, namespace).spec.holder_identity
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def first_then_second(lab, run, namespace, args):
    """Start run A, and run B once A holds the lock; (A's result, B's result)."""
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("a", run("waves", args)))
    first.start()
    deadline = time.monotonic() + 60
    while lease_holder(lab, namespace) is None:
        assert first.is_alive() and time.monotonic() < deadline, "run A never took the lock: %s" % results
        time.sleep(0.05)
    results["b"] = run("waves", args)
    first.join()
    return results["a"], results["b"]


def no_helm_race(*results):
    for result in results:
        text = str(result.get("msg")) + str(result.get("components"))
        assert "already exists" not in text and "another operation" not in text, text


def test_the_second_deploy_waits_for_the_first_and_names_it(lab, run, namespace, helm_paths):
    args = {"components": components(namespace, helm_paths["v3"]), "wave_timeout": 180}
    a, b = first_then_second(lab, run, namespace, args)
    no_helm_race(a, b)
    assert not a.get("failed"), a.get("msg")
    assert not b.get("failed"), b.get("msg")
    assert b["lock"]["waited_for"] == a["lock"]["holder"] and b["lock"]["waited"] > 0
    assert any("held by %s" % a["lock"]["holder"] in w for w in b.get("warnings", [])), b.get("warnings")
    # B looked again once the lock was its own, and found A's work done: the same releases, nothing to change
    assert not b["changed"], {n: c.get("plan") for n, c in b["components"].items()}
    assert lease_holder(lab, namespace) is None  # both released it
    print("\n  B waited %.1fs for A (A took %.1fs); lock requests: A %s, B %s"
          % (b["lock"]["waited"], sum(w["duration"] for w in a["waves"]), a["lock"]["requests"], b["lock"]["requests"]))


def test_lock_timeout_0_refuses_the_second_deploy_naming_the_first(lab, run, namespace, helm_paths):
    args = {"components": components(namespace, helm_paths["v4"]), "wave_timeout": 180, "lock_timeout": 0}
    a, b = first_then_second(lab, run, namespace, args)
    no_helm_race(a, b)
    assert not a.get("failed"), a.get("msg")
    assert b.get("failed") and a["lock"]["holder"] in b["msg"] and "lock_timeout 0" in b["msg"], b.get("msg")
    assert b["lock"]["requests"] == {"POST": 1, "GET": 1}  # one try to take it, one read of the holder
    # refused at its first write: B changed nothing and started no later wave
    assert not b["changed"] and b["components"]["node-exporter-like"]["health"] == "not_started"


def test_check_mode_reads_the_lock_and_writes_nothing(lab, run, namespace, helm_paths):
    since = lab.now()
    result = run("waves", {"components": components(namespace, helm_paths["v3"])}, check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["lock"]["requests"] == {"GET": 1} and result["lock"]["waited_for"] is None
    _, lock = lab.split_deploy_lock(lab.write_requests(since, user=None, include_dry_run=False))
    assert [e for e in lock if e["objectRef"].get("namespace") == namespace] == []
