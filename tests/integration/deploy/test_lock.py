"""The deploy lock on the lab. Two waves runs of the same releases started at once both end well (helm
never sees two installs of one release); a run with something to change waits at its first write for
the lock another run holds and names it, or (lock_timeout 0) is refused naming it; check mode only reads."""

import datetime
import threading
import time

import pytest
from deploy_helpers import CHARTS
from kubernetes import client

pytestmark = pytest.mark.lab

LEASE = "homelab-observability-deploy"
OTHER = "host=elsewhere pid=4242 started=2026-12-07T00:00:00.000000Z"


def components(namespace, helm):
    def chart(name, wave):
        return {"name": name, "wave": wave, "namespace": namespace, "chart": {"ref": str(CHARTS / name)},
                "binary_path": helm}

    return [chart("loki-like", 0), chart("grafana-like", 0), chart("node-exporter-like", 1)]


def coordination(lab):
    return client.CoordinationV1Api(lab.api_client())


def lease_holder(lab, namespace):
    try:
        return coordination(lab).read_namespaced_lease(LEASE, namespace).spec.holder_identity
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def hold_lock(lab, namespace):
    """Another deploy's lock, freshly renewed, in a namespace that exists."""
    core = client.CoreV1Api(lab.api_client())
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    now = datetime.datetime.now(datetime.UTC)
    coordination(lab).create_namespaced_lease(namespace, client.V1Lease(
        metadata=client.V1ObjectMeta(name=LEASE),
        spec=client.V1LeaseSpec(holder_identity=OTHER, lease_duration_seconds=60, acquire_time=now, renew_time=now)))


def no_helm_race(*results):
    for result in results:
        text = str(result.get("msg")) + str(result.get("components"))
        assert "already exists" not in text and "another operation" not in text, text


def test_two_deploys_started_at_once_both_end_well(lab, run, namespace, helm_paths):
    args = {"components": components(namespace, helm_paths["v3"]), "wave_timeout": 180}
    results = {}
    threads = [threading.Thread(target=lambda key=key: results.setdefault(key, run("waves", args))) for key in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    a, b = results["a"], results["b"]
    no_helm_race(a, b)
    assert not a.get("failed"), a.get("msg")
    assert not b.get("failed"), b.get("msg")
    # whoever came second either waited for the first one's lock or found its work done
    waited = [r for r in (a, b) if r["lock"]["waited_for"]]
    assert waited or not (a["changed"] and b["changed"])
    assert lease_holder(lab, namespace) is None  # both released it
    print("\n  two at once: waited %s; changed a=%s b=%s" % (
        [(r["lock"]["waited_for"] == other["lock"]["holder"], r["lock"]["waited"]) for r, other in ((a, b), (b, a))
         if r["lock"]["waited_for"]], a["changed"], b["changed"]))


def test_a_deploy_waits_for_anothers_lock_at_its_first_write_and_names_it(lab, run, namespace, helm_paths):
    hold_lock(lab, namespace)
    released = threading.Timer(4.0, lambda: coordination(lab).delete_namespaced_lease(LEASE, namespace))
    released.start()
    try:
        result = run("waves", {"components": components(namespace, helm_paths["v4"]), "wave_timeout": 180})
    finally:
        released.cancel()
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and result["lock"]["waited_for"] == OTHER and result["lock"]["waited"] > 0.5
    assert any("held by %s" % OTHER in w for w in result.get("warnings", [])), result.get("warnings")
    assert lease_holder(lab, namespace) is None
    print("\n  waited %.1fs for the other deploy's lock" % result["lock"]["waited"])


def test_lock_timeout_0_refuses_at_the_first_write_naming_the_holder(lab, run, namespace, helm_paths):
    hold_lock(lab, namespace)
    started = time.monotonic()
    result = run("waves", {"components": components(namespace, helm_paths["v4"]), "wave_timeout": 180,
                           "lock_timeout": 0})
    seconds = time.monotonic() - started
    assert result.get("failed") and OTHER in result["msg"] and "lock_timeout 0" in result["msg"], result.get("msg")
    assert "not started: node-exporter-like" in result["msg"]
    assert result["lock"]["requests"] == {"POST": 1, "GET": 1}  # one try to take it, one read of the holder
    assert not result["changed"] and lease_holder(lab, namespace) == OTHER
    print("\n  refused in %.1fs" % seconds)


def test_check_mode_reads_the_lock_and_writes_nothing(lab, run, namespace, helm_paths):
    since = lab.now()
    result = run("waves", {"components": components(namespace, helm_paths["v3"])}, check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["lock"]["requests"] == {"GET": 1} and result["lock"]["waited_for"] is None
    _, lock = lab.split_deploy_lock(lab.write_requests(since, user=None, include_dry_run=False))
    assert [e for e in lock if e["objectRef"].get("namespace") == namespace] == []
