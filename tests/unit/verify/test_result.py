"""The check result model: skip switches, requirements, timing, polling."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import ProbeError
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import (
    CheckFailed,
    CheckRunner,
    CheckSkipped,
    check_result,
    failures_text,
    poll,
    skip_reason,
)


def raise_(exc):
    raise exc


def test_passed_failed_skipped_and_durations(clock):
    clock.step = 0.5
    runner = CheckRunner(clock=clock)
    runner.run("a.ok", lambda: "fine")
    runner.run("a.bad", lambda: raise_(CheckFailed("broken")))
    runner.run("a.na", lambda: raise_(CheckSkipped("not here")))
    assert [(c["name"], c["result"], c["reason"]) for c in runner.results] == [
        ("a.ok", "passed", "fine"), ("a.bad", "failed", "broken"), ("a.na", "skipped", "not here")]
    assert all(c["duration"] == 0.5 for c in runner.results)
    assert not runner.passed
    assert runner.summary() == {"passed": 1, "failed": 1, "skipped": 1, "stand-in": 0, "total": 3, "duration": 1.5}


def test_a_check_that_holds_against_a_stand_in_is_reported_as_stand_in_never_passed(clock):
    runner = CheckRunner(clock=clock, stand_ins={"grafana": "lab stand-in for Grafana"})
    runner.run("grafana.health", lambda: "ok 13.2.0")
    runner.run("grafana.login", lambda: raise_(CheckFailed("401")), requires="grafana.health")
    runner.run("grafana.dashboard.x", lambda: "found", requires="grafana.health")
    runner.run("grafanaish.health", lambda: "fine")
    results = {c["name"]: (c["result"], c["reason"]) for c in runner.results}
    assert results["grafana.health"] == ("stand-in", "held against a stand-in (lab stand-in for Grafana): ok 13.2.0")
    assert results["grafana.login"] == ("failed", "401")
    assert results["grafana.dashboard.x"][0] == "stand-in"  # a stand-in requirement does not block
    assert results["grafanaish.health"] == ("passed", "fine")
    assert runner.summary()["stand-in"] == 2 and runner.summary()["passed"] == 1
    assert not runner.passed


@pytest.mark.parametrize("name,expected", [
    ("loki.ready", "lab: no Loki"),
    ("loki.marker", "check mode"),
    ("grafana.login", None),
    ("lokiish.ready", None),
])
def test_skip_matches_exact_names_and_dotted_prefixes(name, expected):
    skip = {"loki": "lab: no Loki", "loki.marker": "check mode"}
    assert skip_reason(skip, name) == expected


def test_a_skipped_check_is_never_run_and_never_passes():
    ran = []
    runner = CheckRunner(skip={"vpa.recommendations": "the lab's pods are simulated"})
    runner.run("vpa.recommendations", lambda: ran.append(1))
    assert ran == []
    assert runner.results[0]["result"] == "skipped"
    assert runner.results[0]["reason"] == "the lab's pods are simulated"
    assert runner.passed


def test_dependents_fail_when_a_requirement_failed_and_skip_when_it_was_skipped():
    runner = CheckRunner(skip={"b.ready": "off"})
    runner.run("a.ready", lambda: raise_(ProbeError("a refused")))
    runner.run("a.more", lambda: "never", requires="a.ready")
    runner.run("b.ready", lambda: "never")
    runner.run("b.more", lambda: "never", requires="b.ready")
    by = {c["name"]: c for c in runner.results}
    assert by["a.ready"] == check_result("a.ready", "failed", by["a.ready"]["duration"], "a refused")
    assert by["a.more"]["result"] == "failed" and "not checked: a.ready failed (a refused)" in by["a.more"]["reason"]
    assert by["b.more"]["result"] == "skipped" and "b.ready was skipped (off)" in by["b.more"]["reason"]


def test_unexpected_errors_fail_with_their_type():
    runner = CheckRunner()
    runner.run("x", lambda: {}["missing"])
    assert runner.results[0]["result"] == "failed"
    assert runner.results[0]["reason"].startswith("KeyError")


def test_poll_stops_when_done_or_at_the_deadline(clock):
    looks = []

    def probe():
        looks.append(clock.now)
        return len(looks) == 3, len(looks)

    assert poll(probe, 10, 1.0, clock, clock.sleep) == (True, 3)
    looks.clear()
    assert poll(lambda: (False, "x"), 2.5, 1.0, clock, clock.sleep) == (False, "x")
    assert poll(lambda: (False, "once"), 0, 1.0, clock, clock.sleep) == (False, "once")


def test_failures_text_names_each_failed_check():
    checks = [check_result("a", "failed", 0, "r1"), check_result("b", "passed"), check_result("c", "failed", 0, "r2")]
    assert failures_text(checks) == "a: r1; c: r2"


def test_results_outside_the_three_are_refused():
    with pytest.raises(ValueError):
        check_result("a", "ok")
