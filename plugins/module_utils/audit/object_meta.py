# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Type checks of a policy's ``metadata`` as the apiserver decodes it into metav1.ObjectMeta.

The audit policy reader decodes the file strictly typed: ``name: 5``, an annotation value that
is a number or ``creationTimestamp: yesterday`` make it refuse the whole file, so the apiserver
does not start. It does not validate the values further (no name format), and it ignores fields
ObjectMeta does not have, which is therefore a warning here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import re

STRING_FIELDS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion")
INT_FIELDS = ("generation", "deletionGracePeriodSeconds")
TIME_FIELDS = ("creationTimestamp", "deletionTimestamp")
STRING_MAP_FIELDS = ("labels", "annotations")
OWNER_REFERENCE = {"apiVersion": "string", "kind": "string", "name": "string", "uid": "string",
                   "controller": "bool", "blockOwnerDeletion": "bool"}
MANAGED_FIELDS_ENTRY = {"manager": "string", "operation": "string", "apiVersion": "string", "time": "time",
                        "fieldsType": "string", "fieldsV1": "object", "subresource": "string"}
OBJECT_META_FIELDS = STRING_FIELDS + INT_FIELDS + TIME_FIELDS + STRING_MAP_FIELDS + (
    "finalizers", "ownerReferences", "managedFields")

# Go's time.Parse(time.RFC3339, ...), which metav1.Time uses: fractional seconds optional, Z or +hh:mm.
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _shown(value):
    return json.dumps(value, default=str)


def is_rfc3339(value):
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if not match:
        return False
    try:
        datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    zone = match.group(3)
    return zone == "Z" or (int(zone[1:3]) < 24 and int(zone[4:6]) < 60)


def _type_error(path, kind, value):
    """The message for ``value`` (not null) at ``path`` that is not of ``kind``, or None."""
    if kind == "string" and not isinstance(value, str):
        return "%s: must be a string; got %s (quote it)" % (path, _shown(value))
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return "%s: must be an integer; got %s" % (path, _shown(value))
    if kind == "bool" and not isinstance(value, bool):
        return "%s: must be true or false; got %s" % (path, _shown(value))
    if kind == "time" and not is_rfc3339(value):
        return ("%s: must be an RFC 3339 time such as 2026-01-31T12:00:00Z; got %s (or leave it out: the apiserver "
                "does not use it)" % (path, _shown(value)))
    if kind == "object" and not isinstance(value, dict):
        return "%s: must be a mapping; got %s" % (path, _shown(value))
    return None


def _check_fields(errors, warnings, path, obj, kinds):
    for key, value in obj.items():
        if key not in kinds:
            warnings.append("%s: unknown field %r is ignored by the apiserver" % (path, key))
        elif value is not None:
            problem = _type_error("%s.%s" % (path, key), kinds[key], value)
            if problem:
                errors.append(problem)


def _check_list_of(errors, warnings, path, value, kinds):
    if not isinstance(value, list):
        errors.append("%s: must be a list of mappings; got %s" % (path, _shown(value)))
        return
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            errors.append("%s[%d]: must be a mapping; got %s" % (path, i, _shown(item)))
        else:
            _check_fields(errors, warnings, "%s[%d]" % (path, i), item, kinds)


def _check_string_map(errors, path, value):
    if not isinstance(value, dict):
        errors.append("%s: must be a mapping of strings; got %s" % (path, _shown(value)))
        return
    for name, item in value.items():
        if item is not None and not isinstance(item, str):
            errors.append("%s[%s]: must be a string; got %s (quote it)" % (path, _shown(name), _shown(item)))


def _scalar_kinds():
    """{field: kind} of ObjectMeta's scalar fields."""
    return dict([(k, "string") for k in STRING_FIELDS] + [(k, "int") for k in INT_FIELDS]
                + [(k, "time") for k in TIME_FIELDS])


def check_string_list(errors, path, value, what=None):
    """Append an error unless ``value`` is a list of strings (``what`` they are, for the message); True if it is."""
    if isinstance(value, list) and all(isinstance(f, str) for f in value):
        return True
    errors.append("%s: must be a list of strings%s; got %s" % (path, " (%s)" % what if what else "", _shown(value)))
    return False


def check_object_meta(errors, warnings, path, meta):
    """Append to ``errors`` what makes the apiserver refuse ``meta``, to ``warnings`` what it ignores."""
    if not isinstance(meta, dict):
        errors.append("%s: must be a mapping (ObjectMeta: name, labels, annotations, ...); got %s"
                      % (path, _shown(meta)))
        return
    kinds = _scalar_kinds()
    simple = {k: v for k, v in meta.items() if k in kinds or k not in OBJECT_META_FIELDS}
    _check_fields(errors, warnings, path, simple, kinds)
    for key in STRING_MAP_FIELDS:
        if meta.get(key) is not None:
            _check_string_map(errors, "%s.%s" % (path, key), meta[key])
    if meta.get("finalizers") is not None:
        check_string_list(errors, path + ".finalizers", meta["finalizers"])
    if meta.get("ownerReferences") is not None:
        _check_list_of(errors, warnings, path + ".ownerReferences", meta["ownerReferences"], OWNER_REFERENCE)
    if meta.get("managedFields") is not None:
        _check_list_of(errors, warnings, path + ".managedFields", meta["managedFields"], MANAGED_FIELDS_ENTRY)
