# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the health-gate options in module_utils/deploy/args.py (WAIT_ARG_SPEC)."""

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
      - A cause that waiting cannot fix ends the wait at the first poll instead. One is a claim naming a
        StorageClass that does not exist, whether a PersistentVolumeClaim, a StatefulSet's C(volumeClaimTemplates)
        or the storage of a Prometheus, Alertmanager or ThanosRuler; the message names the claim, the class and
        the classes that exist. A hand-made PersistentVolume of that class, Available, keeps it waiting, since
        static provisioning needs no StorageClass.
      - When V(false), the health is read once and reported.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for health.
    type: int
    default: 600
  node_lost_grace:
    description:
      - Seconds a pod the wait is for may sit on a node whose C(Ready) condition is C(False) or C(Unknown), or
        whose Node object is gone, before the wait stops as failed, naming the pod, the node, the node's condition
        reason and message and since when, and the fix (bring the node back, or cordon and drain it so the pod is
        rescheduled). The time counts from the condition's C(lastTransitionTime) or from when the wait first saw
        it, whichever is longer; a node lost long before the run fails the wait at its first poll.
      - Without it the wait would last the whole O(wait_timeout) (the node controller evicts such pods only after
        300 seconds). The check costs one pod list per workload that is not healthy and at most one node request per
        poll (none when the nodes were read in the last 5 seconds), only while pods are not ready.
    type: int
    default: 40
"""
