# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests over module_utils/deploy/inputs.py, so the roles' input checks and the modules' use one
grammar each (documented one test a file: prometheus_duration.yml, ...)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.deploy import inputs


class TestModule:
    @staticmethod
    def tests():
        return {
            "prometheus_duration": inputs.prometheus_duration,
            "go_duration": inputs.go_duration,
            "k8s_quantity": inputs.quantity,
            "dns_label": inputs.dns_label,
            "dns_subdomain": inputs.dns_subdomain,
        }
