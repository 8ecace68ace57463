"""Report rendering: console table, report.md, report.json, and writing them."""

import json

from ansible_collections.homelab.observability.plugins.module_utils.verify.report import (
    collect_checks,
    outcomes,
    previous_outcomes,
    render_json,
    render_markdown,
    render_table,
    validate_checks,
    write_report,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import check_result

CHECKS = [
    check_result("prometheus.ready", "passed", 0.012, "Prometheus Server is Ready."),
    check_result("prometheus.retention", "failed", 0.034, "--storage.tsdb.retention.time is 10d, expected 15d"),
    check_result("loki.ready", "skipped", 0, "the lab simulates Loki's pods | nothing serves its API"),
]


def test_table_has_a_header_one_row_per_check_and_a_summary():
    lines = render_table(CHECKS).splitlines()
    assert lines[0].split() == ["CHECK", "RESULT", "TIME", "REASON"]
    assert set(lines[1]) == {"-"}
    assert lines[2].split()[:3] == ["prometheus.ready", "passed", "0.01s"]
    assert lines[3].split()[:3] == ["prometheus.retention", "failed", "0.03s"]
    assert lines[-1] == "3 checks: 1 passed, 1 failed, 1 skipped (0.05s in checks)"
    # columns line up
    assert lines[2].index("passed") == lines[3].index("failed") == lines[4].index("skipped")


def test_table_clips_long_reasons_but_the_files_keep_them():
    long = [check_result("x", "failed", 0, "word " * 100)]
    assert render_table(long, reason_width=40).splitlines()[2].endswith("...")
    assert ("word " * 100).strip() in render_markdown(long)


def test_markdown_escapes_pipes_lists_failures_and_explains_skips():
    md = render_markdown(CHECKS, generated="2026-01-01T00:00:00Z", context={"cluster": "lab"})
    assert md.startswith("# Stack verification report\n")
    assert "Cluster: lab" in md
    assert "**FAILED** — 3 checks: 1 passed, 1 failed, 1 skipped" in md
    assert "simulates Loki's pods \\| nothing" in md
    assert "- `prometheus.retention`: --storage.tsdb.retention.time is 10d, expected 15d" in md
    assert "Skipped checks were not run and prove nothing" in md
    assert "**PASSED**" in render_markdown(CHECKS[:1])


def test_json_carries_every_check_and_the_verdict():
    doc = json.loads(render_json(CHECKS, generated="t"))
    assert doc["passed"] is False
    assert doc["summary"]["failed"] == 1
    assert [c["result"] for c in doc["checks"]] == ["passed", "failed", "skipped"]
    assert set(doc["checks"][0]) == {"name", "result", "duration", "reason"}


def test_validate_checks_names_bad_items():
    assert validate_checks(CHECKS) == []
    problems = validate_checks([{"name": "a", "result": "ok"}, {"result": "passed"}, "x"])
    assert "item 0 (a) has result 'ok'" in problems[0]
    assert "item 1 has no 'name'" in problems[1]
    assert "item 2 is not a dict" in problems[2]


def test_write_report_creates_the_directory_and_reports_changes_only(tmp_path):
    dest = tmp_path / "a" / "report"
    files = {str(dest / "report.md"): "x\n", str(dest / "report.json"): "{}\n"}
    assert sorted(write_report(str(dest), files)) == sorted(files)
    assert write_report(str(dest), files) == []
    assert (dest / "report.md").read_text() == "x\n"


def test_markdown_result_column_uses_the_result_words():
    md = render_markdown(CHECKS)
    assert "| prometheus.ready | passed |" in md
    assert "| prometheus.retention | **failed** |" in md
    assert "| loki.ready | skipped |" in md


def test_stand_in_checks_are_counted_and_explained_apart_from_passes():
    checks = CHECKS[:1] + [check_result("grafana.health", "stand-in", 0.01, "held against a stand-in (lab)")]
    assert render_table(checks).splitlines()[-1] == (
        "2 checks: 1 passed, 0 failed, 0 skipped, 1 against stand-ins (0.02s in checks)")
    md = render_markdown(checks)
    assert "| grafana.health | *stand-in* |" in md
    assert "prove the check's plumbing, not the component's promise" in md
    assert "Stand-in checks" not in render_markdown(CHECKS)
    assert validate_checks(checks) == []
    assert json.loads(render_json(checks))["summary"]["stand-in"] == 1


def test_outcomes_leave_out_what_differs_on_every_run():
    again = [dict(c, duration=9.9, reason="measured again") for c in CHECKS]
    assert outcomes(CHECKS, "t") == outcomes(again, "t")
    flipped = [dict(CHECKS[0], result="failed")] + CHECKS[1:]
    assert outcomes(flipped, "t") != outcomes(CHECKS, "t")
    assert outcomes(CHECKS, "t", {"cluster": "a"}) != outcomes(CHECKS, "t", {"cluster": "b"})


def test_previous_outcomes_read_back_what_render_json_wrote(tmp_path):
    path = tmp_path / "report.json"
    assert previous_outcomes(str(path)) is None
    path.write_text(render_json(CHECKS, "t", "2026-01-01T00:00:00Z", {"cluster": "lab"}))
    assert previous_outcomes(str(path)) == outcomes(CHECKS, "t", {"cluster": "lab"})
    path.write_text("{not json")
    assert previous_outcomes(str(path)) is None


def test_module_is_changed_only_when_outcomes_change_and_writes_every_time(tmp_path, run_module):
    args = {"checks": CHECKS, "dest": str(tmp_path / "report")}
    first = run_module("verify_report", args)
    assert first["changed"]
    report = tmp_path / "report" / "report.json"
    report.write_text(report.read_text().replace(json.loads(report.read_text())["generated"], "1999-01-01T00:00:00Z"))
    rerun = run_module("verify_report", dict(args, checks=[dict(c, duration=1.5) for c in CHECKS]))
    assert rerun["changed"] is False
    assert json.loads(report.read_text())["generated"] != "1999-01-01T00:00:00Z"  # rewritten all the same
    assert json.loads(report.read_text())["checks"][0]["duration"] == 1.5
    flipped = [dict(CHECKS[0], result="failed")] + CHECKS[1:]
    assert run_module("verify_report", dict(args, checks=flipped))["changed"]
    assert run_module("verify_report", dict(args, checks=flipped, _ansible_check_mode=True))["changed"] is False


def test_collect_checks_keeps_module_order_skips_on_purpose_and_fails_a_module_that_did_not_run():
    results = {
        "prometheus": {"checks": CHECKS[:2]},
        "loki": {"skipped": True, "skip_reason": "Conditional result was False"},
        "grafana": {"failed": True, "msg": "admin_secret monitoring/grafana-admin not found"},
        "http": {"skipped": True},
    }
    checks = collect_checks(results, skip={"loki": "no Loki on this cluster", "http": None},
                            check_names={"loki": ["loki.ready", "loki.marker"]})
    assert [(c["name"], c["result"]) for c in checks] == [
        ("prometheus.ready", "passed"), ("prometheus.retention", "failed"),
        ("loki.ready", "skipped"), ("loki.marker", "skipped"),
        ("grafana", "failed"), ("http", "skipped")]
    assert checks[2]["reason"] == "no Loki on this cluster" and checks[5]["reason"] == ""
    assert checks[4]["reason"] == "the module did not run: admin_secret monitoring/grafana-admin not found"
    assert validate_checks(checks) == []
