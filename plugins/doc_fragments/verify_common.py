# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the options in module_utils/verify/args.py, and of the return values every verify_* module has."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  skip:
    description:
      - Checks not to run, as a mapping of check name (or a dotted prefix such as V(loki)) to the
        reason. A skipped check is reported with result V(skipped) and that reason, never as passed.
      - Use it where a component only exists on paper, for example the lab's simulated pods.
    type: dict
    default: {}
  stand_ins:
    description:
      - Components that are served by a stand-in here, as a mapping of check name (or a dotted prefix)
        to the reason. A check that holds against one is reported with result V(stand-in) and that
        reason, never as V(passed); it proves the check, not the component. A failure stays V(failed).
      - Use it where a test bed replaces a component it cannot run (the lab's stand-ins for Grafana, Loki, ...).
    type: dict
    default: {}
  fail_on_failure:
    description:
      - Fail the task when a check failed, after every check ran, with the reasons.
      - Set to V(false) to collect the results and decide later (the P(homelab.observability.verify#role) role does).
    type: bool
    default: true
notes:
  - Every check returns C(name), C(result) (V(passed), V(failed), V(skipped) or V(stand-in)), C(duration) in seconds
    and C(reason). A check that cannot reach what it needs fails with the reason; it never passes by default.
"""
