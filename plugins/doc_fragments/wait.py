# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the health-gate options in module_utils/waves/args.py (WAIT_ARG_SPEC)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until every object of the release is healthy (Argo CD's health rules per kind, for Deployment,
        StatefulSet, DaemonSet, Job, PersistentVolumeClaim, Service of type LoadBalancer, Ingress,
        CustomResourceDefinition, APIService, custom resources with a C(Ready) or C(Available) condition).
      - When the objects are not healthy by O(wait_timeout), the task fails with a diagnosis.
      - When V(false), the health is read once and reported.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for health.
    type: int
    default: 600
"""
