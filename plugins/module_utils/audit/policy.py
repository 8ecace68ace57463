# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes audit policy: the default rules, validation and rendering.

Validation follows the kube-apiserver's own rules (k8s.io/apiserver, audit policy reader and
``validation.ValidatePolicy`` as of v1.34) so that a policy this module accepts is one the
apiserver will load, and the apiserver never gets a file that stops it from starting:

* ``apiVersion`` must be ``audit.k8s.io/v1`` (v1alpha1/v1beta1 were removed in 1.24) and
  ``kind`` ``Policy``; the apiserver refuses a policy with no rules.
* every rule needs a level in None/Metadata/Request/RequestResponse;
* ``omitStages`` (policy and rule) only RequestReceived/ResponseStarted/ResponseComplete/Panic;
* non-resource URLs start with ``/`` (or are exactly ``*``) with ``*`` only as the last character;
* a rule does not mix ``nonResourceURLs`` with ``resources`` or ``namespaces``;
* API groups are lower-case DNS subdomains (``""`` is the core group); ``resourceNames`` need
  at least one resource.

Stricter than the apiserver, because each of these silently widens or voids a rule:

* unknown fields of a rule or of the policy (the apiserver ignores a typo such as ``resource:``,
  the rule then matches everything);
* list fields must be lists of strings, ``resources`` a list of mappings.

Accepted by the apiserver but surely a mistake, so a warning rather than a refusal:

* an unknown verb (the matcher has no ``*`` wildcard, and an unknown verb never matches);
* a selector given as ``null`` (``users: null`` is the same as leaving it out: every user);
* an unknown ``metadata`` field (ignored). Known ``metadata`` fields are ObjectMeta and must have
  its types, since the apiserver refuses the file otherwise.

What is written is what was validated: ``render_policy`` quotes every string (``yaml11``) and
reads its own output back the way the apiserver does before returning it.

Pure Python (PyYAML only for rendering) so unit tests call it directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
import re

from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml11
from ansible_collections.homelab.observability.plugins.module_utils.audit.object_meta import (
    check_object_meta,
    check_string_list,
)

HAS_YAML = yaml11.HAS_YAML

API_VERSION = "audit.k8s.io/v1"
KIND = "Policy"
LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
# Verbs of resource requests (RequestInfo) plus the lower-cased HTTP methods the apiserver uses as
# the verb of non-resource requests.
RESOURCE_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy")
NON_RESOURCE_VERBS = ("get", "post", "put", "patch", "delete", "head", "options")
KNOWN_VERBS = tuple(sorted(set(RESOURCE_VERBS) | set(NON_RESOURCE_VERBS)))

POLICY_FIELDS = ("apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields")
RULE_FIELDS = (
    "level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs",
    "omitStages", "omitManagedFields",
)
GROUP_RESOURCE_FIELDS = ("group", "resources", "resourceNames")

MUTATING_VERBS = ["create", "update", "patch", "delete", "deletecollection"]
CSR_RESOURCES = ["certificatesigningrequests", "certificatesigningrequests/approval",
                 "certificatesigningrequests/status"]

INFRASTRUCTURE = ["namespaces", "nodes", "persistentvolumes"]
INFRASTRUCTURE_SUBRESOURCES = ["namespaces/finalize", "namespaces/status", "persistentvolumes/status"]

# The seed's table, in order (first match wins). RequestReceived is omitted policy-wide.
DEFAULT_RULES = [
    # 1-3 noise -> None: health checks and version/metrics, every watch and list, lease heartbeats.
    {"level": "None", "nonResourceURLs": ["/healthz*", "/readyz*", "/livez*", "/version", "/metrics"]},
    {"level": "None", "verbs": ["watch", "list"]},
    {"level": "None", "verbs": ["get", "update", "patch"],
     "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}]},
    # 4 secret mutations -> RequestResponse (the request body holds the Secret's values).
    {"level": "RequestResponse", "verbs": ["create", "update", "patch", "delete"],
     "resources": [{"group": "", "resources": ["secrets"]}]},
    # 5 RBAC changes -> RequestResponse.
    {"level": "RequestResponse", "verbs": list(MUTATING_VERBS),
     "resources": [{"group": "rbac.authorization.k8s.io",
                    "resources": ["roles", "clusterroles", "rolebindings", "clusterrolebindings"]}]},
    # 6 auth events -> RequestResponse: token reviews, access reviews made on behalf of others
    # (self reviews such as `kubectl auth can-i` are left to the read/mutation rules), CSRs.
    {"level": "RequestResponse", "verbs": list(MUTATING_VERBS), "resources": [
        {"group": "authentication.k8s.io", "resources": ["tokenreviews"]},
        {"group": "authorization.k8s.io", "resources": ["subjectaccessreviews", "localsubjectaccessreviews"]},
        {"group": "certificates.k8s.io", "resources": CSR_RESOURCES},
    ]},
    # 7 infrastructure mutations -> RequestResponse, with the subresources that are changes of the
    # same objects (nodes/status is left out: every kubelet patches it, its body the whole status).
    {"level": "RequestResponse", "verbs": list(MUTATING_VERBS),
     "resources": [{"group": "", "resources": INFRASTRUCTURE + INFRASTRUCTURE_SUBRESOURCES}]},
    # 8 every other mutation -> Metadata.
    {"level": "Metadata", "verbs": list(MUTATING_VERBS)},
    # 9 remaining reads -> Metadata.
    {"level": "Metadata", "verbs": ["get"]},
]
DEFAULT_OMIT_STAGES = ["RequestReceived"]

# RFC 1123 subdomain, as k8s.io/apimachinery validation.IsDNS1123Subdomain.
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class PolicyError(ValueError):
    """Raised with every problem found; ``errors`` holds one message per problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(PolicyError, self).__init__("; ".join(self.errors))


def default_policy(rules=None, omit_stages=None, omit_managed_fields=None):
    """The policy object for ``rules`` (default: the seed's rules)."""
    policy = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "omitStages": list(DEFAULT_OMIT_STAGES if omit_stages is None else omit_stages),
        "rules": copy.deepcopy(DEFAULT_RULES if rules is None else rules),
    }
    if omit_managed_fields is not None:
        policy["omitManagedFields"] = bool(omit_managed_fields)
    return policy


def _check_stages(errors, path, stages):
    if not check_string_list(errors, path, stages, "stage names"):
        return
    for i, stage in enumerate(stages):
        if stage not in STAGES:
            errors.append("%s[%d]: unsupported stage %r; use one of %s" % (path, i, stage, ", ".join(STAGES)))


def _check_unknown(errors, path, obj, allowed):
    for key in obj:
        if key not in allowed:
            errors.append("%s: unknown field %r (the apiserver would ignore it and the rule would match more than "
                          "intended); allowed fields: %s" % (path, key, ", ".join(allowed)))


def _check_level(errors, path, level):
    if level is None or level == "":
        errors.append("%s.level: required; set one of %s" % (path, ", ".join(LEVELS)))
    elif level not in LEVELS:
        hint = ""
        if isinstance(level, str) and level.lower() in [lv.lower() for lv in LEVELS]:
            hint = " (levels are case-sensitive)"
        errors.append("%s.level: unsupported value %r%s; use one of %s" % (path, level, hint, ", ".join(LEVELS)))


def _check_non_resource_urls(errors, path, urls):
    if not check_string_list(errors, path, urls, "URL paths such as /healthz*"):
        return
    for i, url in enumerate(urls):
        if url == "*":
            continue
        if not url.startswith("/"):
            errors.append("%s[%d]: %r: non-resource URL rules must begin with a '/' character; write %r"
                          % (path, i, url, "/" + url.lstrip("/")))
        if url and "*" in url[:-1]:
            errors.append("%s[%d]: %r: non-resource URL wildcards '*' must be the final character of the rule"
                          % (path, i, url))


def _check_group(errors, path, group):
    if group is None:
        group = ""
    if not isinstance(group, str):
        errors.append("%s: must be a string (\"\" is the core group)" % path)
    elif "/" in group:
        errors.append("%s: %r: give the API group without a version, e.g. %r" % (path, group, group.split("/")[0]))
    elif group != group.lower():
        errors.append("%s: %r: API groups are lower case; write %r" % (path, group, group.lower()))
    elif group and (len(group) > 253 or not _DNS1123_SUBDOMAIN.match(group)):
        errors.append("%s: %r: must be a lower-case DNS subdomain such as rbac.authorization.k8s.io "
                      "(\"\" is the core group; there is no group wildcard)" % (path, group))


def _check_resources(errors, path, resources):
    if not isinstance(resources, list):
        errors.append("%s: must be a list of {group, resources, resourceNames} mappings" % path)
        return
    for j, gr in enumerate(resources):
        gpath = "%s[%d]" % (path, j)
        if not isinstance(gr, dict):
            errors.append("%s: must be a mapping with group/resources/resourceNames; got %s"
                          % (gpath, json.dumps(gr, default=str)))
            continue
        _check_unknown(errors, gpath, gr, GROUP_RESOURCE_FIELDS)
        _check_group(errors, gpath + ".group", gr.get("group", ""))
        names_ok = True
        if gr.get("resources") is not None:
            names_ok = check_string_list(errors, gpath + ".resources", gr["resources"], "resource names, e.g. secrets")
        names_listed = gr.get("resourceNames") is not None and names_ok and check_string_list(
            errors, gpath + ".resourceNames", gr["resourceNames"], "object names")
        if names_listed and gr["resourceNames"] and not gr.get("resources"):
            errors.append("%s.resourceNames: using resourceNames requires at least one resource; "
                          "add resources: [...]" % gpath)


def _check_verbs(errors, warnings, path, verbs):
    if not check_string_list(errors, path, verbs, "verbs"):
        return
    for i, verb in enumerate(verbs):
        if verb == "*":
            warnings.append("%s[%d]: '*' is not a wildcard for verbs (it never matches); omit verbs to match every "
                            "verb" % (path, i))
        elif verb not in KNOWN_VERBS:
            hint = " (verbs are lower case)" if verb.lower() in KNOWN_VERBS else ""
            warnings.append("%s[%d]: unknown verb %r%s never matches a request; use one of %s"
                            % (path, i, verb, hint, ", ".join(KNOWN_VERBS)))


# Selectors whose null the apiserver takes as "not given": the rule then matches more.
NULLABLE_SELECTORS = ("users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "omitStages")


def _warn_null_selectors(warnings, path, obj, keys):
    for key in keys:
        if key in obj and obj[key] is None:
            warnings.append("%s.%s: null is the same as leaving it out (the rule then does not select by %s); "
                            "remove it or give a list" % (path, key, key))


def _check_selectors(errors, warnings, path, present):
    """The rule's selectors that are given (not null)."""
    for key in ("users", "userGroups", "namespaces"):
        if key in present:
            check_string_list(errors, "%s.%s" % (path, key), present[key], key)
    if "verbs" in present:
        _check_verbs(errors, warnings, path + ".verbs", present["verbs"])
    if "nonResourceURLs" in present:
        _check_non_resource_urls(errors, path + ".nonResourceURLs", present["nonResourceURLs"])
    if "resources" in present:
        _check_resources(errors, path + ".resources", present["resources"])
    if "omitStages" in present:
        _check_stages(errors, path + ".omitStages", present["omitStages"])


def validate_rule(rule, index, warnings=None):
    """Problems of one rule, each message starting with ``rules[index]``; warnings go to ``warnings``."""
    path = "rules[%d]" % index
    errors = []
    warnings = [] if warnings is None else warnings
    if not isinstance(rule, dict):
        return ["%s: must be a mapping with at least a level; got %s" % (path, json.dumps(rule, default=str))]
    _check_unknown(errors, path, rule, RULE_FIELDS)
    _check_level(errors, path, rule.get("level"))
    _warn_null_selectors(warnings, path, rule, NULLABLE_SELECTORS)
    _check_selectors(errors, warnings, path, {k: v for k, v in rule.items() if v is not None})
    if rule.get("omitManagedFields") is not None and not isinstance(rule["omitManagedFields"], bool):
        errors.append("%s.omitManagedFields: must be true or false" % path)
    if rule.get("nonResourceURLs") and (rule.get("resources") or rule.get("namespaces")):
        errors.append("%s.nonResourceURLs: rules cannot apply to both regular resources and non-resource URLs; "
                      "split it into one rule with resources/namespaces and one with nonResourceURLs" % path)
    return errors


def unreachable_rules(rules):
    """Indexes of rules that follow a rule matching every request (first match wins)."""
    selectors = ("users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs")
    for i, rule in enumerate(rules):
        if isinstance(rule, dict) and not any(rule.get(k) for k in selectors):
            return list(range(i + 1, len(rules)))
    return []


def validate_policy(policy):
    """Raise PolicyError listing every problem; return a list of warnings otherwise."""
    errors = []
    if not isinstance(policy, dict):
        raise PolicyError(["policy: must be a mapping with apiVersion, kind and rules"])
    _check_unknown(errors, "policy", policy, POLICY_FIELDS)
    warnings = []
    if policy.get("metadata") is not None:
        check_object_meta(errors, warnings, "policy.metadata", policy["metadata"])
    if policy.get("apiVersion") != API_VERSION:
        errors.append("policy.apiVersion: %r is not served by kube-apiserver 1.24+; set apiVersion: %s"
                      % (policy.get("apiVersion"), API_VERSION))
    if policy.get("kind") != KIND:
        errors.append("policy.kind: %r; set kind: %s" % (policy.get("kind"), KIND))
    if policy.get("omitStages") is not None:
        _check_stages(errors, "policy.omitStages", policy["omitStages"])
    if policy.get("omitManagedFields") is not None and not isinstance(policy["omitManagedFields"], bool):
        errors.append("policy.omitManagedFields: must be true or false")
    rules = policy.get("rules")
    if not isinstance(rules, list) or not rules:
        errors.append("policy.rules: the apiserver refuses a policy with no rules (it does not start); "
                      "give at least one rule, e.g. {level: Metadata}")
        rules = rules if isinstance(rules, list) else []
    for i, rule in enumerate(rules):
        errors.extend(validate_rule(rule, i, warnings))
    if errors:
        raise PolicyError(errors)
    dead = unreachable_rules(rules)
    if dead:
        warnings.append("rules %s come after rule %d, which matches every request; they never apply (first match "
                        "wins)" % (", ".join(str(i) for i in dead), dead[0] - 1))
    return warnings


def _clean(value):
    """Plain JSON-compatible types (Ansible hands in its own str/dict subclasses)."""
    return json.loads(json.dumps(value))


_RULE_ORDER = RULE_FIELDS
_GR_ORDER = GROUP_RESOURCE_FIELDS


def _ordered(obj, order):
    """``obj`` with the keys of ``order`` first, in that order, then any others as they came."""
    out = {k: obj[k] for k in order if k in obj}
    out.update((k, v) for k, v in obj.items() if k not in out)
    return out


def _ordered_rule(rule):
    out = _ordered(rule, _RULE_ORDER)
    if isinstance(out.get("resources"), list):
        out["resources"] = [_ordered(gr, _GR_ORDER) if isinstance(gr, dict) else gr for gr in out["resources"]]
    return out


def render_policy(policy, header=None):
    """The policy as YAML text, keys in a stable order, with an optional comment header.

    Every string is double-quoted (``yaml11.render``), and the text is read back the way the
    apiserver reads it: should any value come back different, nothing is returned to be written.
    """
    if not HAS_YAML:  # pragma: no cover
        raise RuntimeError("PyYAML is required to render the audit policy")
    policy = _clean(policy)
    ordered = _ordered(policy, ("apiVersion", "kind", "metadata", "omitStages", "omitManagedFields", "rules"))
    if isinstance(ordered.get("rules"), list):
        ordered["rules"] = [_ordered_rule(r) if isinstance(r, dict) else r for r in ordered["rules"]]
    body = yaml11.render(ordered)
    if yaml11.go_load(body) != ordered:
        raise PolicyError(["internal: the rendered policy reads back differently under the apiserver's YAML rules; "
                           "nothing written. Please report this with the policy"])
    if header:
        lines = ["# " + line if line else "#" for line in header.splitlines()]
        body = "\n".join(lines) + "\n" + body
    return body


def policy_sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
