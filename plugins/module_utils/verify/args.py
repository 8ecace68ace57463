# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every verify_* module shares (``skip``, ``stand_ins``, ``fail_on_failure``) and how a
module ends.

Mirrored by the doc fragment ``homelab.observability.verify_common``; keep both in step.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckRunner, failures_text

VERIFY_OPTIONS = {
    "skip": {"type": "dict", "default": {}},
    "stand_ins": {"type": "dict", "default": {}},
    "fail_on_failure": {"type": "bool", "default": True},
}


def verify_argument_spec():
    return {name: dict(spec) for name, spec in VERIFY_OPTIONS.items()}


def check_runner(params):
    """The runner of a module run, with its ``skip`` and ``stand_ins`` switches."""
    return CheckRunner(params["skip"], stand_ins=params["stand_ins"])


def exit_with_checks(module, runner, **extra):
    """exit_json with the checks, or fail_json naming every failed check when asked to."""
    checks = runner.results
    result = dict(changed=False, checks=checks, summary=runner.summary(), passed=runner.passed, **extra)
    if not runner.passed and module.params.get("fail_on_failure"):
        module.fail_json(msg="verification failed: %s" % failures_text(checks), **result)
    module.exit_json(**result)
