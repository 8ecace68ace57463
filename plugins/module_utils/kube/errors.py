# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors raised by the kube helpers; modules turn them into fail_json messages."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class KubeError(Exception):
    """A Kubernetes API problem, with a message fit to show a user."""


class KubeConfigError(KubeError):
    """The connection options cannot produce a working client."""
