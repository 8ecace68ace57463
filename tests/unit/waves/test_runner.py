"""Wave ordering, parallelism inside a wave, the stop rule and the timing table (no cluster)."""

import threading
import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.waves import runner


def comp(name, wave, **extra):
    return dict({"name": name, "wave": wave, "namespace": "monitoring", "wait": True}, **extra)


class Recorder:
    def __init__(self, unhealthy=(), failing=(), delay=0.05):
        self.unhealthy = set(unhealthy)
        self.failing = set(failing)
        self.delay = delay
        self.events = []
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def __call__(self, params, check_mode):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.events.append(("start", params["name"], time.monotonic()))
        time.sleep(self.delay)
        with self.lock:
            self.active -= 1
            self.events.append(("end", params["name"], time.monotonic()))
        name = params["name"]
        res = {"changed": True, "health": "Healthy", "resources": [], "diagnosis": [],
               "timing": {"started_at": "s", "finished_at": "f", "duration": self.delay},
               "wait_timeout": params["wait_timeout"]}
        if name in self.unhealthy:
            res.update(health="Progressing", diagnosis=["pod x unschedulable"])
        if name in self.failing:
            res.update(failed=True, msg="%s: boom" % name)
        return res


SEED = [comp("alloy", 0), comp("kps", -1), comp("loki", -1), comp("vpa", 1), comp("goldilocks", 1)]


def test_waves_run_in_ascending_order_and_in_parallel_inside_a_wave():
    rec = Recorder()
    result, failure = runner.run_waves(SEED, rec)
    assert failure is None
    assert [w["wave"] for w in result["waves"]] == [-1, 0, 1]
    times = {(kind, name): t for kind, name, t in rec.events}
    assert max(times[("end", "kps")], times[("end", "loki")]) <= times[("start", "alloy")]
    assert times[("end", "alloy")] <= min(times[("start", "vpa")], times[("start", "goldilocks")])
    assert rec.peak == 2
    assert [row["component"] for row in result["timing_table"]] == ["kps", "loki", "alloy", "goldilocks", "vpa"]
    assert result["changed"] is True


def test_stops_at_the_first_unhealthy_wave_and_reports_every_component():
    rec = Recorder(unhealthy={"loki"})
    result, failure = runner.run_waves(SEED, rec)
    assert "wave -1" in failure and "loki" in failure and "not started: alloy, vpa, goldilocks" in failure
    assert result["components"]["kps"]["health"] == "Healthy"
    assert result["components"]["loki"]["diagnosis"] == ["pod x unschedulable"]
    for name in ("alloy", "vpa", "goldilocks"):
        assert result["components"][name]["health"] == runner.NOT_STARTED
    assert [w["healthy"] for w in result["waves"]] == [False]


def test_a_failed_component_stops_the_run():
    result, failure = runner.run_waves(SEED, Recorder(failing={"alloy"}))
    assert "alloy: boom" in failure
    assert result["components"]["alloy"]["msg"] == "alloy: boom"
    assert result["components"]["vpa"]["health"] == runner.NOT_STARTED


def test_check_mode_does_not_stop_on_health():
    result, failure = runner.run_waves(SEED, Recorder(unhealthy={"loki"}), check_mode=True)
    assert failure is None and len(result["waves"]) == 3


def test_max_parallel_bounds_the_threads():
    comps = [comp("c%d" % i, 0) for i in range(6)]
    rec = Recorder()
    runner.run_waves(comps, rec, max_parallel=2)
    assert rec.peak == 2


def test_wave_timeout_caps_component_timeouts():
    seen = {}

    def deploy_one(params, check_mode):
        seen[params["name"]] = params["wait_timeout"]
        return {"health": "Healthy"}

    runner.run_waves([comp("a", 0, wait_timeout=600), comp("b", 0, wait_timeout=30)], deploy_one, wave_timeout=60)
    assert seen == {"a": 60, "b": 30}


def test_an_exception_in_one_component_is_reported_not_raised():
    def deploy_one(params, check_mode):
        raise RuntimeError("bug")

    result, failure = runner.run_waves([comp("a", 0)], deploy_one)
    assert "unexpected error: bug" in failure


def test_duplicate_names_are_rejected():
    with pytest.raises(KubeError, match="twice"):
        runner.group_waves([comp("a", 0), comp("a", 1)])


class StubLock:
    """Records acquire, ensure and release among the deploys; ``refuse`` makes ``ensure`` fail as LockHeld would."""

    def __init__(self, events, refuse=None):
        self.events = events
        self.refuse = refuse
        self.refused = None
        self.lost = None

    def acquire(self):
        self.events.append(("acquire",))

    def ensure(self):
        self.events.append(("ensure",))
        if self.refuse:
            self.refused = KubeError(self.refuse)
            raise self.refused

    def release(self):
        self.events.append(("release",))


def writing(rec, lock):
    """A deploy_one whose component writes: its client calls the lock's ensure before the first write."""
    def deploy_one(params, check_mode):
        try:
            lock.ensure()
        except KubeError as exc:
            return {"failed": True, "msg": "%s: %s" % (params["name"], exc), "changed": False, "health": "Unknown"}
        return rec(params, check_mode)
    return deploy_one


def test_a_run_that_writes_nothing_never_takes_the_lock_and_still_releases_it():
    rec = Recorder()
    lock = StubLock(rec.events)
    _, failure = runner.run_waves(SEED, rec, lock=lock)
    assert failure is None
    assert ("acquire",) not in rec.events and ("ensure",) not in rec.events and rec.events[-1] == ("release",)


def test_check_mode_reads_the_lock_before_the_first_deploy():
    rec = Recorder()
    lock = StubLock(rec.events)
    runner.run_waves(SEED, rec, lock=lock, check_mode=True)
    assert rec.events[0] == ("acquire",) and rec.events[-1] == ("release",)


def test_the_lock_is_released_after_a_failed_wave_and_when_the_run_raises():
    rec = Recorder(unhealthy={"kps"})
    lock = StubLock(rec.events)
    _, failure = runner.run_waves(SEED, writing(rec, lock), lock=lock)
    assert "wave -1 did not become healthy" in failure and rec.events[-1] == ("release",)
    events = []

    def broken_timing(params, check_mode):
        return {"changed": True, "health": "Healthy", "timing": "not a dict"}  # _outcome raises on it

    with pytest.raises(AttributeError):
        runner.run_waves(SEED, broken_timing, lock=StubLock(events))
    assert events == [("release",)]


def test_a_refused_lock_is_the_runs_cause_and_no_later_wave_starts():
    rec = Recorder()
    lock = StubLock(rec.events, refuse="another deploy holds the deploy lock: host=a pid=1")
    result, failure = runner.run_waves(SEED, writing(rec, lock), lock=lock)
    assert failure == "another deploy holds the deploy lock: host=a pid=1; not started: alloy, vpa, goldilocks"
    assert not any(e[0] == "start" for e in rec.events)
    assert result["components"]["alloy"]["health"] == runner.NOT_STARTED


def test_a_lock_lost_during_a_wave_stops_the_run_before_the_next_wave():
    rec = Recorder()
    lock = StubLock(rec.events)

    def deploy_and_lose(params, check_mode):
        lock.lost = "the deploy lock was taken over by host=b"
        return rec(params, check_mode)

    result, failure = runner.run_waves(SEED, deploy_and_lose, lock=lock)
    assert failure == "the deploy lock was taken over by host=b; not started: alloy, vpa, goldilocks"
    assert [w["wave"] for w in result["waves"]] == [-1]
    assert result["components"]["alloy"]["health"] == runner.NOT_STARTED


def test_a_lock_lost_inside_a_wave_refuses_that_waves_later_writes():
    from ansible_collections.homelab.observability.plugins.module_utils.kube import lease as ls  # noqa: PLC0415

    from tests.fakes.kube_api import FakeApi  # noqa: PLC0415

    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}
    api = FakeApi([ns])
    lock = ls.DeployLock(api, "monitoring", me="host=a pid=1 started=x")
    written = []

    def deploy_one(params, check_mode):
        for step in range(3):
            try:
                lock.ensure()
            except KubeError as exc:
                return {"failed": True, "msg": "%s: %s" % (params["name"], exc), "changed": bool(written),
                        "health": "Unknown"}
            written.append((params["name"], step))
            if len(written) == 1:  # another run takes the lock over after this run's first write
                ref = next(r for r in api.objects if r.kind == "Lease")
                api.objects[ref] = dict(api.objects[ref], spec=dict(api.objects[ref]["spec"], holderIdentity="host=b"),
                                        metadata=dict(api.objects[ref]["metadata"], resourceVersion="999"))
                assert lock.renew() is False
        return {"changed": True, "health": "Healthy", "resources": [], "diagnosis": [],
                "timing": {"started_at": "s", "finished_at": "f", "duration": 0}}

    result, failure = runner.run_waves(SEED, deploy_one, lock=lock, max_parallel=1)
    assert len(written) == 1  # nothing written after the loss, inside wave -1 too
    assert failure.startswith("the deploy lock (Lease monitoring/homelab-observability-deploy) was taken over by "
                              "host=b") and failure.endswith("; not started: alloy, vpa, goldilocks")
    assert [w["wave"] for w in result["waves"]] == [-1]


def test_the_first_component_is_the_first_of_the_lowest_wave():
    assert runner.first_component(SEED)["name"] == "kps"
    assert runner.first_component([]) is None


def test_a_component_that_does_not_wait_is_not_named_as_a_cause_of_its_waves_failure():
    rec = Recorder(unhealthy={"kps", "loki"})
    seed = [comp("kps", -1), dict(comp("loki", -1), wait=False), comp("alloy", 0)]
    _, failure = runner.run_waves(seed, rec)
    assert failure.startswith("wave -1 did not become healthy (kps is ") and "loki" not in failure.split(":")[0]


def test_each_component_reports_the_seconds_of_its_phases_and_a_not_started_one_none():
    def deploy_one(params, check_mode):
        timing = {"started_at": "s", "finished_at": "f", "duration": 3.0, "plan": 0.5, "apply": 1.0, "wait": 1.5}
        health = "Progressing" if params["name"] == "kps" else "Healthy"
        return {"changed": True, "health": health, "resources": [], "diagnosis": [], "timing": timing}

    result, _failure = runner.run_waves(SEED, deploy_one)
    assert result["components"]["kps"]["phases"] == {"plan": 0.5, "apply": 1.0, "wait": 1.5}
    assert result["components"]["alloy"]["phases"] == {}
    assert [row["phases"] for row in result["timing_table"]][:2] == [{"plan": 0.5, "apply": 1.0, "wait": 1.5}] * 2
