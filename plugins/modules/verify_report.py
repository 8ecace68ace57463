#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_report
short_description: Write the stack report (report.md and report.json) from verify_* check results
version_added: 0.1.0
description:
  - Renders the results of the C(homelab.observability.verify_*) modules as a console table, a Markdown
    report and a JSON report, and writes C(report.md) and C(report.json) into O(dest).
  - Never fails because a check failed; the caller decides (the P(homelab.observability.verify#role) role fails
    the play after the report is written).
  - Reports C(changed) only when the outcomes differ from the C(report.json) already in O(dest) (a check added,
    removed or with another result, another title or context), or there is none. The files are still rewritten
    on every run; the generation time, durations and reasons alone are not a change.
author:
  - homelab.observability maintainers (!UNKNOWN)
options:
  checks:
    description:
      - Check results, each with C(name), C(result) (V(passed), V(failed), V(skipped) or V(stand-in)), C(duration) and C(reason),
        as the C(checks) return value of the verify_* modules.
      - Exactly one of O(checks) and O(results) is required.
    type: list
    elements: dict
  results:
    description:
      - The registered results of the verify_* modules by a name of your choice, in report order; the report
        collects their checks.
      - A result without C(checks) whose name is in O(skip) reports the names in O(check_names) as skipped with
        the reason; any other result without C(checks) (the module could not run) becomes one failed check
        named after it, with the module's error.
    type: dict
    version_added: 0.2.0
  skip:
    description:
      - Names in O(results) left out on purpose, with the reason printed for their checks.
    type: dict
    default: {}
    version_added: 0.2.0
  check_names:
    description:
      - For each name in O(skip), the names of the checks its module would have reported (default the name itself).
    type: dict
    default: {}
    version_added: 0.2.0
  dest:
    description:
      - Directory for C(report.md) and C(report.json); created when missing.
    type: path
    required: true
  title:
    description:
      - Title of the report.
    type: str
    default: Stack verification report
  report_context:
    description:
      - Extra facts printed at the top of the report and stored in the JSON, for example the cluster name.
      - Named C(context) before 0.1.0's action groups, where C(context) is the kubeconfig context; the old name
        stays an alias.
    type: dict
    default: {}
    aliases: [context]
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written; the table and the paths are returned all the same.
  diff_mode:
    support: full
    description: Shows the change of C(report.md).
"""

EXAMPLES = r"""
- name: Write the report of the checks registered earlier
  homelab.observability.verify_report:
    checks: "{{ prometheus_checks.checks + grafana_checks.checks }}"
    dest: "{{ playbook_dir }}/../.lab/report"
  register: report

- name: Show it
  ansible.builtin.debug:
    msg: "{{ report.table.splitlines() }}"
"""

RETURN = r"""
changed:
  description: Whether the outcomes differ from the previous report (see the description); the files are written anyway.
  returned: always
  type: bool
table:
  description: The summary table (check, result, time, reason) as text, with a closing summary line.
  returned: always
  type: str
markdown:
  description: Path of the Markdown report.
  returned: always
  type: str
  sample: /srv/homelab/.lab/report/report.md
json:
  description: Path of the JSON report.
  returned: always
  type: str
  sample: /srv/homelab/.lab/report/report.json
summary:
  description: Counts of passed, failed, skipped and stand-in checks, their total and the seconds spent in checks.
  returned: always
  type: dict
  sample: {passed: 12, failed: 1, skipped: 6, stand-in: 4, total: 23, duration: 2.3}
passed:
  description: True when no check failed.
  returned: always
  type: bool
failures:
  description: The failed checks, each as C(<name>) colon C(<reason>).
  returned: always
  type: list
  elements: str
"""

import datetime

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.verify.report import (
    collect_checks,
    outcomes,
    planned_files,
    previous_outcomes,
    render_json,
    render_markdown,
    render_table,
    validate_checks,
    write_report,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import FAILED, summarize


def argument_spec():
    return dict(
        checks=dict(type="list", elements="dict"),
        results=dict(type="dict"),
        skip=dict(type="dict", default={}),
        check_names=dict(type="dict", default={}),
        dest=dict(type="path", required=True),
        title=dict(type="str", default="Stack verification report"),
        report_context=dict(type="dict", default={}, aliases=["context"]),
    )


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _result(checks, paths, changed):
    return dict(
        changed=changed, table=render_table(checks), markdown=paths["markdown"], json=paths["json"],
        summary=summarize(checks), passed=not any(c["result"] == FAILED for c in checks),
        failures=["%s: %s" % (c["name"], c.get("reason", "")) for c in checks if c["result"] == FAILED],
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("checks", "results")], mutually_exclusive=[("checks", "results")])
    p = module.params
    checks = p["checks"] if p["checks"] is not None else collect_checks(p["results"], p["skip"], p["check_names"])
    problems = validate_checks(checks)
    if problems:
        module.fail_json(msg="checks must be the 'checks' lists the verify_* modules return: %s" % "; ".join(problems))
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (modules run on Python < 3.11 too)
    generated = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    paths = planned_files(p["dest"])
    md = render_markdown(checks, p["title"], generated, p["report_context"])
    files = {paths["markdown"]: md, paths["json"]: render_json(checks, p["title"], generated, p["report_context"])}
    before = _read(paths["markdown"])
    # changed means the verdicts changed: the files are rewritten on every run (a new generation time), which
    # alone made the verify play report changed=1 each time
    changed = previous_outcomes(paths["json"]) != outcomes(checks, p["title"], p["report_context"])
    if not module.check_mode:
        try:
            write_report(p["dest"], files)
        except OSError as exc:
            module.fail_json(msg="cannot write the report into %s: %s (set dest to a writable directory)"
                                 % (p["dest"], exc))
    result = _result(checks, paths, changed)
    if module._diff:
        result["diff"] = dict(before=before, after=md, before_header=paths["markdown"], after_header=paths["markdown"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
