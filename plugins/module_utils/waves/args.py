# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument spec of a component of ``waves``: a release (deploy/args.py) without auth, plus its wave."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.deploy.args import release_spec_without_auth


def component_spec():
    """A component of ``waves``: a release (without auth) plus its wave number."""
    spec = release_spec_without_auth()
    spec["wave"] = {"type": "int", "default": 0}
    return spec
