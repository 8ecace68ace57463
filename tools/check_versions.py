#!/usr/bin/env python3
"""Checks that docs/versions.md, charts.lock.yml and the role defaults pin the same versions.

Fails when a row's version differs from the role default it names, when a default ending in
_chart_version or _image_tag has no row, when a row names a variable no role defines, when a pin
is empty or "latest", or when a chart of charts.lock.yml differs from the role defaults of its
role_prefix (chart name, repository, version) or a pinned chart is missing from it.
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "docs" / "versions.md"
PINNED = re.compile(r"_(chart_version|image_tag)$")
ROW = re.compile(r"^\|\s*`(?P<var>[a-z0-9_]+)`\s*\|[^|]*\|\s*(?P<version>[^|]*?)\s*\|")


def lock_rows(text):
    rows = {}
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group("var")] = match.group("version")
    return rows


def role_pins(root):
    pins = {}
    for defaults in sorted((root / "roles").glob("*/defaults/main.yml")):
        data = yaml.safe_load(defaults.read_text()) or {}
        for name, value in data.items():
            if PINNED.search(name):
                pins[name] = (str(value) if value is not None else "", defaults.relative_to(root))
    return pins


def role_defaults(root):
    merged = {}
    for defaults in sorted((root / "roles").glob("*/defaults/main.yml")):
        merged.update(yaml.safe_load(defaults.read_text()) or {})
    return merged


def lab_versions(root):
    path = root / "tools" / "lab" / "versions.env"
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def chart_lock_problems(root):
    lock = root / "charts.lock.yml"
    if not lock.exists():
        return ["charts.lock.yml is missing"]
    defaults = role_defaults(root)
    problems = []
    prefixes = set()
    for chart in (yaml.safe_load(lock.read_text()) or {}).get("charts", []):
        prefix = chart.get("role_prefix", "")
        prefixes.add(prefix)
        expected = {"_chart_ref": chart.get("name"), "_chart_repo_url": chart.get("repo"),
                    "_chart_version": chart.get("version")}
        for suffix, value in expected.items():
            actual = defaults.get(prefix + suffix)
            if actual is None or str(actual) != str(value):
                problems.append("charts.lock.yml: %s says %s but the role default %s%s is %r"
                                % (chart.get("name"), value, prefix, suffix, actual))
    lab = lab_versions(root)
    for chart in (yaml.safe_load(lock.read_text()) or {}).get("charts", []):
        if chart.get("name") == "kube-prometheus-stack" and lab.get("PROMETHEUS_OPERATOR_VERSION") != chart.get(
                "app_version"):
            problems.append("tools/lab/versions.env: PROMETHEUS_OPERATOR_VERSION is %s but kube-prometheus-stack %s "
                            "runs the operator %s (charts.lock.yml app_version)"
                            % (lab.get("PROMETHEUS_OPERATOR_VERSION"), chart.get("version"), chart.get("app_version")))
    for name in sorted(defaults):
        if name.endswith("_chart_version") and name[: -len("_chart_version")] not in prefixes:
            problems.append("charts.lock.yml: no chart for %s (add its archive with tools/charts.py lock)" % name)
    return problems


def check(root=ROOT):
    problems = []
    lock = root / "docs" / "versions.md"
    if not lock.exists():
        return ["docs/versions.md is missing"]
    rows = lock_rows(lock.read_text())
    pins = role_pins(root)
    for name, (value, where) in sorted(pins.items()):
        if not value or value.lower() == "latest":
            problems.append("%s: %s pins %r: pin a real version" % (where, name, value))
        if name not in rows:
            problems.append("docs/versions.md: no row for %s (%s = %s)" % (name, where, value))
        elif rows[name] != value:
            problems.append("docs/versions.md: %s is %s but %s says %s" % (name, rows[name], where, value))
    for name in sorted(set(rows) - set(pins)):
        problems.append("docs/versions.md: %s names no role default" % name)
    return problems + chart_lock_problems(root)


def main():
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    print("versions: %d problems" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
