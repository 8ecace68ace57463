# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack report: a console table, ``report.md`` and ``report.json`` from check results."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.homelab.observability.plugins.module_utils.verify.result import (
    FAILED,
    PASSED,
    SKIPPED,
    STAND_IN,
    summarize,
)

COLUMNS = ("check", "result", "time", "reason")
CONSOLE_REASON_WIDTH = 110
MARK = {PASSED: "passed", FAILED: "**failed**", SKIPPED: "skipped", STAND_IN: "*stand-in*"}


def _time(check):
    return "%.2fs" % float(check.get("duration") or 0.0)


def _clip(text, width):
    text = " ".join((text or "").split())
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


def summary_line(checks):
    counts = summarize(checks)
    stand_ins = ", %d against stand-ins" % counts[STAND_IN] if counts[STAND_IN] else ""
    return "%d checks: %d passed, %d failed, %d skipped%s (%.2fs in checks)" % (
        counts["total"], counts[PASSED], counts[FAILED], counts[SKIPPED], stand_ins, counts["duration"])


def render_table(checks, reason_width=CONSOLE_REASON_WIDTH):
    """Fixed-width text table, one check a line, then the summary line."""
    rows = [("CHECK", "RESULT", "TIME", "REASON")]
    rows += [(c["name"], c["result"], _time(c), _clip(c.get("reason"), reason_width)) for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["%s  %s  %s  %s" % (row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3])
             for row in rows]
    lines = [line.rstrip() for line in lines]
    lines.insert(1, "-" * max(len(line) for line in lines))
    lines.append(summary_line(checks))
    return "\n".join(lines)


def _md_cell(text):
    return " ".join((text or "").split()).replace("|", "\\|") or " "


def _md_header(title, generated, context):
    lines = ["# %s" % title, ""]
    if generated:
        lines.append("Generated: %s" % generated)
    for key in sorted(context or {}):
        lines.append("%s: %s" % (key.replace("_", " ").capitalize(), context[key]))
    if len(lines) > 2:
        lines.append("")
    return lines


def _md_table(checks):
    verdict = "FAILED" if summarize(checks)[FAILED] else "PASSED"
    lines = ["**%s** — %s" % (verdict, summary_line(checks)), "",
             "| check | result | time | reason |", "|---|---|---:|---|"]
    for c in checks:
        lines.append("| %s | %s | %s | %s |"
                     % (_md_cell(c["name"]), MARK[c["result"]], _time(c), _md_cell(c.get("reason"))))
    return lines


def _md_notes(checks):
    """The failed checks in full, and what skipped and stand-in results do not prove."""
    results = {c["result"] for c in checks}
    lines = []
    if FAILED in results:
        lines += ["", "## Failed checks", ""]
        lines += ["- `%s`: %s" % (c["name"], " ".join((c.get("reason") or "").split()))
                  for c in checks if c["result"] == FAILED]
    if SKIPPED in results:
        lines += ["", "Skipped checks were not run and prove nothing; their reasons say why."]
    if STAND_IN in results:
        lines += ["", "Stand-in checks held against a stand-in server in place of the component: they prove "
                      "the check's plumbing, not the component's promise."]
    return lines


def render_markdown(checks, title="Stack verification report", generated=None, context=None):
    lines = _md_header(title, generated, context) + _md_table(checks) + _md_notes(checks)
    return "\n".join(lines) + "\n"


def render_json(checks, title="Stack verification report", generated=None, context=None):
    counts = summarize(checks)
    doc = {
        "title": title,
        "generated": generated,
        "passed": counts[FAILED] == 0,
        "summary": counts,
        "context": dict(context or {}),
        "checks": [dict(name=c["name"], result=c["result"], duration=c.get("duration", 0.0), reason=c.get("reason", ""))
                   for c in checks],
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def outcomes(checks, title, context=None):
    """What a report says, without what differs on every run: each check's name and result, the title and the
    context. Durations, the generation time and reasons (they quote measured values, marker names and
    seconds) are left out, so a rerun against an unchanged stack has the same outcomes.
    """
    return {"title": title, "context": dict(context or {}),
            "checks": [[c["name"], c["result"]] for c in checks]}


def previous_outcomes(json_path):
    """The outcomes of the report.json already written, or None when there is none (or it cannot be read)."""
    try:
        with open(json_path) as handle:
            doc = json.load(handle)
        return outcomes(doc["checks"], doc.get("title"), doc.get("context"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _skipped(names, reason):
    return [{"name": name, "result": SKIPPED, "duration": 0.0, "reason": reason or ""} for name in names]


def collect_checks(results, skip=None, check_names=None):
    """One list of checks from the results the verify_* modules were registered in, by module name.

    A module that ran gives its checks; one left out on purpose (named in ``skip``, with the reason)
    gives its ``check_names`` as skipped; one that could not run becomes one failed check with its error,
    so the report always says what was not proved.
    """
    skip, check_names = skip or {}, check_names or {}
    checks = []
    for name, registered in results.items():
        result = registered or {}
        if "checks" in result:
            checks += result["checks"]
        elif name in skip:
            checks += _skipped(check_names.get(name) or [name], skip[name])
        else:
            checks.append({"name": name, "result": FAILED, "duration": 0.0,
                           "reason": "the module did not run: %s" % result.get("msg", "unknown error")})
    return checks


def validate_checks(checks):
    """Problems with a list of check dicts (missing keys, unknown results); empty when fine."""
    problems = []
    for index, check in enumerate(checks):
        if not isinstance(check, dict):
            problems.append("item %d is not a dict" % index)
            continue
        for key in ("name", "result"):
            if key not in check:
                problems.append("item %d has no %r" % (index, key))
        if check.get("result") not in (PASSED, FAILED, SKIPPED, STAND_IN):
            problems.append("item %d (%s) has result %r; expected passed, failed, skipped or stand-in"
                            % (index, check.get("name"), check.get("result")))
    return problems


def planned_files(directory):
    return {"markdown": os.path.join(directory, "report.md"), "json": os.path.join(directory, "report.json")}


def write_report(directory, files):
    """Write ``{path: text}``; returns the paths whose content changed."""
    if not os.path.isdir(directory):
        os.makedirs(directory)
    changed = []
    for path, text in files.items():
        old = None
        if os.path.exists(path):
            with open(path) as handle:
                old = handle.read()
        if old != text:
            tmp = path + ".tmp"
            with open(tmp, "w") as handle:
                handle.write(text)
            os.replace(tmp, path)
            changed.append(path)
    return changed
