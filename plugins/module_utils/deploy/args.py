# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of one component (the ``release`` module; ``waves`` adds a wave number).

Mirrored by the doc fragments ``homelab.observability.helm`` (chart source and Helm behaviour) and
``homelab.observability.wait`` (health gate); the release module documents the rest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.homelab.observability.plugins.module_utils.kube.args import auth_argument_spec

CHART_SPEC = {
    "ref": {"type": "str", "required": True},
    "repo_url": {"type": "str"},
    "version": {"type": "str"},
}

HELM_ARG_SPEC = {
    "chart": {"type": "dict", "options": CHART_SPEC},
    "values": {"type": "dict"},
    "values_files": {"type": "list", "elements": "path"},
    "rollback_on_failure": {"type": "bool", "default": False},
    "recover_pending": {"type": "bool", "default": False},
    "binary_path": {"type": "path"},
    "chart_mirror": {"type": "path"},
}

WAIT_ARG_SPEC = {
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 600},
    "node_lost_grace": {"type": "int", "default": 40},
}

RELEASE_OWN_SPEC = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "required": True},
    "create_namespace": {"type": "bool", "default": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "manifests": {"type": "list", "elements": "dict"},
    "manifest_files": {"type": "list", "elements": "path"},
    "prune": {"type": "bool", "default": True},
    "recreate_immutable": {"type": "bool", "default": False},
}

RELEASE_MUTUALLY_EXCLUSIVE = [("chart", "manifests"), ("chart", "manifest_files")]
RELEASE_REQUIRED_ONE_OF = [("chart", "manifests", "manifest_files")]


def release_spec_without_auth():
    spec = copy.deepcopy(RELEASE_OWN_SPEC)
    spec.update(copy.deepcopy(HELM_ARG_SPEC))
    spec.update(copy.deepcopy(WAIT_ARG_SPEC))
    return spec


def release_argument_spec():
    spec = release_spec_without_auth()
    spec.update(auth_argument_spec())
    return spec
