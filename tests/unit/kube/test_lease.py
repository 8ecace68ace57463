"""The deploy lock (kube/lease.py) against the in-memory API: take, wait, take over, refuse, races, renew, release."""

import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube import lease as ls
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApiError, Ref

from tests.fakes.clock import Clock
from tests.fakes.kube_api import FakeApi

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}
REF = Ref(ls.API_VERSION, "Lease", "monitoring", ls.NAME)
OTHER = "host=other pid=7 started=2026-01-01T10:00:00.000000Z"
ME = "host=me pid=1 started=2026-01-01T10:05:00.000000Z"


@pytest.fixture
def clock():
    clock = Clock()
    clock.now = 1_800_000_000.0
    return clock


def held_by(holder, renewed, duration=60, version="100"):
    return {"apiVersion": ls.API_VERSION, "kind": "Lease",
            "metadata": {"name": ls.NAME, "namespace": "monitoring", "resourceVersion": version},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": ls.microtime(renewed),
                     "acquireTime": ls.microtime(renewed), "leaseTransitions": 3}}


def make_lock(api, clock, **extra):
    extra.setdefault("timeout", 600)
    return ls.DeployLock(api, "monitoring", clock=clock, sleep=clock.sleep, me=ME, **extra)


@pytest.fixture
def taken(clock):
    """(api, lock): this run took the free lock."""
    api = FakeApi([NS])
    lock = make_lock(api, clock)
    lock.acquire()
    return api, lock


def test_a_free_lock_costs_one_create_and_one_delete(clock):
    api = FakeApi([NS])
    lock = make_lock(api, clock)
    lock.acquire()
    stored = api.objects[REF]
    assert stored["spec"]["holderIdentity"] == ME and stored["spec"]["leaseDurationSeconds"] == 60
    assert lock.waited == 0 and lock.waited_for is None
    assert lock.release() is None
    assert REF not in api.objects
    assert dict(api.counts) == {"POST": 1, "DELETE": 1} == lock.report()["requests"]


def test_waits_for_the_holder_then_takes_the_lock_when_it_is_released(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now)])
    started = clock.now

    def sleep(seconds):
        clock.sleep(seconds)
        if clock.now - started >= 10:
            api.objects.pop(REF, None)  # the other run ends

    lock = ls.DeployLock(api, "monitoring", timeout=600, clock=clock, sleep=sleep, me=ME)
    lock.acquire()
    assert lock.waited == pytest.approx(10) and lock.waited_for == OTHER
    assert api.objects[REF]["spec"]["holderIdentity"] == ME
    lock.release()


def test_an_expired_lock_is_taken_over_with_its_resource_version(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now - 61)])
    lock = make_lock(api, clock, timeout=0)
    lock.acquire()
    stored = api.objects[REF]
    assert stored["spec"]["holderIdentity"] == ME and stored["spec"]["leaseTransitions"] == 4
    assert api.counts["PUT"] == 1 and api.counts["GET"] == 1
    lock.release()


def test_lock_timeout_0_refuses_at_once_naming_the_holder(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now - 5)])
    lock = make_lock(api, clock, timeout=0)
    with pytest.raises(ls.LockHeld) as err:
        lock.acquire()
    assert OTHER in str(err.value) and "lock_timeout 0" in str(err.value) and "renewed 5s ago" in str(err.value)
    assert "kubectl -n monitoring delete lease homelab-observability-deploy" in str(err.value)
    assert err.value.holder == OTHER and clock.now == 1_800_000_000.0
    assert api.objects[REF]["spec"]["holderIdentity"] == OTHER


def test_a_holder_that_keeps_renewing_makes_the_waiter_fail_after_lock_timeout(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now)])

    def renewing(seconds):
        clock.sleep(seconds)
        api.objects[REF]["spec"]["renewTime"] = ls.microtime(clock.now)

    lock = ls.DeployLock(api, "monitoring", timeout=30, clock=clock, sleep=renewing, me=ME)
    with pytest.raises(ls.LockHeld, match="waited 30s \\(lock_timeout 30\\)") as err:
        lock.acquire()
    assert err.value.holder == OTHER and api.counts["POST"] == 1 and api.counts["PUT"] == 0


def test_a_create_that_loses_the_race_reads_the_winner_and_waits_for_it(clock):
    api = FakeApi([NS])

    def other_run_first(verb, ref):
        if verb == "POST" and ref == REF and REF not in api.objects:
            api.objects[REF] = held_by(OTHER, clock.now)

    api.on_write = other_run_first
    lock = make_lock(api, clock, timeout=0)
    with pytest.raises(ls.LockHeld, match="host=other"):
        lock.acquire()


def test_a_takeover_that_loses_the_race_leaves_the_lock_to_the_winner(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now - 120)])
    winner = "host=third pid=9 started=2026-01-01T10:06:00.000000Z"

    def third_run_first(verb, ref):
        if verb == "PUT" and api.objects[REF]["spec"]["holderIdentity"] == OTHER:
            api.objects[REF] = held_by(winner, clock.now, version="101")

    api.on_write = third_run_first
    lock = make_lock(api, clock, timeout=0)
    with pytest.raises(ls.LockHeld) as err:
        lock.acquire()
    assert err.value.holder == winner and api.objects[REF]["spec"]["holderIdentity"] == winner


def test_our_own_create_whose_answer_was_lost_counts_as_ours(clock):
    api = FakeApi([NS, held_by(ME, clock.now)])  # the retried POST met the Lease the first one wrote
    lock = make_lock(api, clock, timeout=0)
    lock.acquire()
    assert api.objects[REF]["spec"]["holderIdentity"] == ME and api.objects[REF]["spec"]["leaseTransitions"] == 3
    lock.release()
    assert REF not in api.objects


def test_renew_moves_the_renew_time_on(clock, taken):
    api, lock = taken
    first = api.objects[REF]["spec"]
    clock.sleep(20)
    assert lock.renew() is True
    now = api.objects[REF]["spec"]
    assert ls.parse_time(now["renewTime"]) - ls.parse_time(first["renewTime"]) == pytest.approx(20)
    assert now["acquireTime"] == first["acquireTime"]
    lock.release()
    assert REF not in api.objects


def test_a_lock_taken_over_while_held_is_lost_and_not_deleted(clock, taken):
    api, lock = taken
    api.objects[REF] = held_by(OTHER, clock.now, version="555")
    assert lock.renew() is False
    assert OTHER in lock.lost
    lock.release()
    assert api.objects[REF]["spec"]["holderIdentity"] == OTHER


def test_the_renewer_thread_renews_while_the_run_holds_the_lock():
    api = FakeApi([NS])
    lock = ls.DeployLock(api, "monitoring", duration=3, me=ME)  # renews every second
    lock.acquire()
    time.sleep(1.5)
    lock.release()
    assert api.counts["PUT"] >= 1 and REF not in api.objects


def test_check_mode_only_reads_and_names_a_live_holder(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now)])
    lock = make_lock(api, clock, check_mode=True, timeout=0)
    lock.acquire()
    assert lock.waited_for == OTHER and lock.release() is None
    assert api.writes() == 0 and api.counts["GET"] == 1


def test_check_mode_ignores_an_expired_holder(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now - 61)])
    lock = make_lock(api, clock, check_mode=True)
    lock.acquire()
    assert lock.waited_for is None and api.writes() == 0


def test_a_missing_namespace_is_created_when_the_first_component_would_create_it(clock):
    api = FakeApi()
    lock = make_lock(api, clock, create_namespace=True)
    lock.acquire()
    assert Ref("v1", "Namespace", None, "monitoring") in api.objects and REF in api.objects
    lock.release()


def test_a_missing_namespace_is_an_error_naming_lock_namespace(clock):
    api = FakeApi()
    lock = make_lock(api, clock)
    with pytest.raises(KubeError, match="namespace monitoring does not exist.*lock_namespace"):
        lock.acquire()


def test_release_reports_a_delete_that_failed_instead_of_raising(taken):
    api, lock = taken

    def unreachable(verb, ref):
        raise KubeError("DELETE ... failed: connection refused (retried for 30s)")

    api.on_write = unreachable
    assert "expires 60s after its last renewal" in lock.release()
    assert "connection refused" in lock.report()["release_problem"]


def test_a_user_without_rights_on_leases_is_told_which_rights_and_where(clock):
    api = FakeApi([NS])

    def forbidden(verb, ref):
        raise KubeApiError(403, "Forbidden", 'leases is forbidden: User "ci" cannot create resource "leases"',
                           verb, "/apis/coordination.k8s.io/v1/namespaces/monitoring/leases")

    api.on_write = forbidden
    with pytest.raises(KubeError, match="get, create, update and delete on leases .* monitoring.*lock: false"):
        make_lock(api, clock).acquire()


def test_ensure_takes_the_lock_once_for_every_writer_of_the_run(clock):
    api = FakeApi([NS])
    lock = make_lock(api, clock)
    for _ in range(3):
        lock.ensure()
    assert dict(api.counts) == {"POST": 1}
    lock.release()
    assert dict(api.counts) == {"POST": 1, "DELETE": 1}


def test_a_run_that_never_writes_releases_nothing(clock):
    api = FakeApi([NS])
    assert make_lock(api, clock).release() is None and api.writes() == 0


def test_ensure_raises_the_first_refusal_to_every_later_writer_without_asking_again(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now - 5)])
    lock = make_lock(api, clock, timeout=0)
    with pytest.raises(ls.LockHeld):
        lock.ensure()
    asked = sum(api.counts.values())
    with pytest.raises(ls.LockHeld, match="host=other"):
        lock.ensure()
    assert sum(api.counts.values()) == asked and lock.refused is not None


def test_a_kube_api_asks_for_the_lock_before_a_write_but_not_before_a_read_or_dry_run():
    from ansible_collections.homelab.observability.plugins.module_utils.kube.http import Response  # noqa: PLC0415
    from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi  # noqa: PLC0415

    class Session:
        host = "https://h"

        def send(self, method, url, body=None, headers=None, **_):
            return Response(200, b"{}")

    asked = []
    api = KubeApi(Session())
    api.before_write = lambda: asked.append(True)
    api.request("GET", "/api/v1/namespaces")
    api.request("PATCH", "/api/v1/namespaces/x", query={"dryRun": "All"}, body={})
    assert asked == []
    api.request("PATCH", "/api/v1/namespaces/x", query={"dryRun": None}, body={})
    api.request("DELETE", "/api/v1/namespaces/x")
    assert asked == [True, True]


def test_a_write_after_the_lock_was_taken_over_is_refused(clock):
    api = FakeApi([NS])
    lock = make_lock(api, clock)
    lock.ensure()
    api.objects[REF] = held_by(OTHER, clock.now, version="555")
    assert lock.renew() is False
    with pytest.raises(ls.LockLost, match="taken over by host=other.*writes nothing more"):
        lock.ensure()
    with pytest.raises(ls.LockLost):
        lock.ensure()  # every later writer of the run too
    lock.release()
    assert api.objects[REF]["spec"]["holderIdentity"] == OTHER


def test_renewals_failing_with_5xx_until_the_lease_runs_out_fence_the_writes(clock):
    api = FakeApi([NS])
    lock = make_lock(api, clock)
    lock.ensure()

    def overloaded(verb, ref):
        if verb == "PUT":
            raise KubeApiError(503, "ServiceUnavailable", "etcd leader changed", "PUT", "/")

    api.on_write = overloaded
    for _tick in range(3):
        clock.sleep(20)
        assert lock.renew() is False
    lock.ensure()  # 60s after the last renewal: still within the lease
    clock.sleep(1)
    with pytest.raises(ls.LockLost, match="expired: not renewed for 61s \\(lease 60s\\)"):
        lock.ensure()
    assert lock.lost and lock.renew() is False


def test_a_takeover_of_a_lease_deleted_since_our_read_creates_it(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now - 120)])

    def deleted_first(verb, ref):
        if verb == "PUT" and api.objects[REF]["spec"]["holderIdentity"] == OTHER:
            del api.objects[REF]  # its holder's release came late, between our GET and our PUT

    api.on_write = deleted_first
    lock = make_lock(api, clock, timeout=0)
    lock.acquire()
    assert api.objects[REF]["spec"]["holderIdentity"] == ME


def test_the_locks_api_gives_up_retrying_before_the_next_renewal_is_due():
    from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi  # noqa: PLC0415

    api = KubeApi(type("Session", (), {"send": None})(), retry_seconds=30)
    ls.DeployLock(api, "monitoring", duration=60, me=ME)
    assert api.retry_seconds == 15 < 60 / 3


def test_ensure_returns_when_a_run_that_waited_took_the_lock(clock):
    api = FakeApi([NS, held_by(OTHER, clock.now - 55)])
    lock = make_lock(api, clock)
    before = time.monotonic()
    taken = lock.ensure()  # waits 5s for the lease to run out
    assert taken is not None and taken >= before and lock.ensure() == taken
    free = make_lock(FakeApi([NS]), clock)
    assert free.ensure() is None
