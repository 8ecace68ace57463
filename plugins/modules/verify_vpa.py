#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_vpa
short_description: Prove that every workload has a recommend-only VPA (Goldilocks) and that recommendations flow
version_added: 0.1.0
description:
  - Runs read-only checks against the Kubernetes API and returns one result per check.
  - C(vpa.coverage) expects a VerticalPodAutoscaler (C(autoscaling.k8s.io/v1)) with C(updateMode Off) targeting
    each Deployment and StatefulSet outside O(excluded_namespaces). A VPA without an update mode counts as
    C(Auto), the API's default.
  - C(vpa.excluded) expects no VPA inside O(excluded_namespaces).
  - C(vpa.recommendations) expects every VPA older than O(recommendation_grace) seconds to carry
    C(status.recommendation.containerRecommendations). While no VPA is that old, it passes if a younger
    VPA already carries one (the recommender reads metrics and writes), and is skipped otherwise.
author:
  - homelab.observability maintainers (!UNKNOWN)
extends_documentation_fragment:
  - homelab.observability.k8s_auth
  - homelab.observability.verify_common
options:
  excluded_namespaces:
    description:
      - Namespaces Goldilocks leaves alone.
    type: list
    elements: str
    default: [kube-node-lease, kube-public]
  recommendation_grace:
    description:
      - Seconds a VPA may exist before it must carry a recommendation.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    description: Every check is read-only; check mode runs them all.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Prove the capacity planning layer
  homelab.observability.verify_vpa:
    kubeconfig: ~/.kube/config

- name: Right after a deploy, before the recommender had data
  homelab.observability.verify_vpa:
    skip:
      vpa.recommendations: the recommender started minutes ago
"""

RETURN = r"""
checks:
  description: One entry per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Check name, for example C(vpa.coverage).
      type: str
    result:
      description: V(passed), V(failed) or V(skipped).
      type: str
    duration:
      description: Seconds the check took.
      type: float
    reason:
      description: Why it failed or was skipped; what was seen when it passed.
      type: str
  sample:
    - {name: vpa.excluded, result: failed, duration: 0.05,
       reason: '1 VPA(s) exist in excluded namespaces (kube-node-lease, kube-public): kube-public/goldilocks-web'}
summary:
  description: Counts of passed, failed and skipped checks, their total and the seconds spent.
  returned: always
  type: dict
  sample: {passed: 3, failed: 1, skipped: 0, total: 4, duration: 0.3}
passed:
  description: True when no check failed.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import auth_argument_spec
from ansible_collections.homelab.observability.plugins.module_utils.probes.args import KubeSession
from ansible_collections.homelab.observability.plugins.module_utils.verify.args import (
    check_runner,
    exit_with_checks,
    verify_argument_spec,
)
from ansible_collections.homelab.observability.plugins.module_utils.verify.vpa import run_vpa


def argument_spec():
    spec = auth_argument_spec()
    spec.update(verify_argument_spec())
    spec.update(
        excluded_namespaces=dict(type="list", elements="str", default=["kube-node-lease", "kube-public"]),
        recommendation_grace=dict(type="int", default=300),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    kube = KubeSession(p)
    runner = check_runner(p)
    run_vpa(runner, lambda: kube.apiserver, excluded=p["excluded_namespaces"], grace=p["recommendation_grace"])
    exit_with_checks(module, runner)


if __name__ == "__main__":
    main()
