# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Syntax checks of user input, made before anything is sent, so a bad value fails the run with the
name of the input and a valid example instead of half a stack deployed and a server's refusal.

The same checks serve the modules (component names, namespaces, manifest names) and the roles
(their Jinja tests, plugins/test/inputs.py, name the role variable). The grammars are the ones
the receiving program parses: Prometheus's ``model.ParseDuration`` (Loki uses the same),
Go's ``time.ParseDuration`` (External Secrets' refreshInterval), a Kubernetes ``resource.Quantity``
and the apiserver's DNS-1123 name rules; Helm's release names are DNS-1123 subdomains of at most 53
characters (it keeps room for its own suffixes).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# units largest first, each at most once, no fractions; "0" alone is accepted as Prometheus does
_PROM_DURATION = re.compile(r"^0$|^(?=.)([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$")
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$")
# A size: a decimal number with an optional binary or decimal suffix, as Kubernetes prints them.
# Exponents (1e3) and the milli suffix (500m) are legal quantities but mean something else than a
# homelab owner meant for a volume, so they are refused with an example.
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# Kinds whose names only need to be a path segment (the apiserver allows ':' in them, as in system:nodes).
_PATH_SEGMENT_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def prometheus_duration(value):
    return isinstance(value, str) and bool(_PROM_DURATION.match(value))


def go_duration(value):
    return isinstance(value, str) and bool(_GO_DURATION.match(value))


def quantity(value):
    return isinstance(value, str) and bool(_QUANTITY.match(value))


def dns_label(value):
    return isinstance(value, str) and len(value) <= 63 and bool(_LABEL.match(value))


def dns_subdomain(value):
    return isinstance(value, str) and len(value) <= 253 and bool(_SUBDOMAIN.match(value))


def release_name(value):
    return dns_subdomain(value) and len(value) <= 53


LABEL_RULE = ("a DNS-1123 label (at most 63 lower case letters, digits and '-', starting and ending with a letter or "
              "digit)")
SUBDOMAIN_RULE = "a DNS-1123 subdomain (lower case letters, digits, '-' and '.', at most 253 characters)"
RELEASE_RULE = "a Helm release name (a DNS-1123 subdomain of at most 53 characters)"


def component_problems(params):
    """Messages for the names of one component (the options of the release module), empty when fine."""
    problems = []
    name, namespace = params.get("name"), params.get("namespace")
    if params.get("chart") and not release_name(name):
        problems.append("name %r is not %s, such as 'kube-prometheus-stack'" % (name, RELEASE_RULE))
    if not params.get("chart") and not dns_label(name):
        # the name is the value of the component label every object gets (pruning finds them by it)
        problems.append("name %r of a manifests component is not %s, such as 'exportarr'" % (name, LABEL_RULE))
    if not dns_label(namespace):
        problems.append("namespace %r is not %s, such as 'monitoring'" % (namespace, LABEL_RULE))
    for index, obj in enumerate(params.get("manifests") or []):
        problems.extend("manifests[%d]: %s" % (index, p) for p in manifest_problems(obj))
    return problems


def manifest_problems(obj):
    if not isinstance(obj, dict):
        return []
    meta = obj.get("metadata") or {}
    out = []
    name, namespace = meta.get("name"), meta.get("namespace")
    if obj.get("kind") not in _PATH_SEGMENT_KINDS and name is not None and not dns_subdomain(name):
        out.append("%s name %r is not %s, such as 'capacity-dashboards'" % (obj.get("kind"), name, SUBDOMAIN_RULE))
    if namespace is not None and not dns_label(namespace):
        out.append("%s %s: namespace %r is not %s" % (obj.get("kind"), name, namespace, LABEL_RULE))
    return out
