# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML read the way helm and the apiserver read it (sigs.k8s.io/yaml, a go-yaml v2 fork).

PyYAML's safe loader and Go's decoder disagree on plain scalars: PyYAML refuses ``=`` (its
"value" tag has no constructor), reads ``1:20`` as a sexagesimal int and timestamps as datetime,
and leaves ``y``, ``n``, ``1e3`` and ``0o17`` as strings; Go reads those last four as bool, bool,
float and int, keeps timestamps as text, and accepts any local tag. A manifest helm accepts must
load here with the values helm sees, so plain scalars are resolved with go-yaml v2's rules
(resolve.go) and everything else (anchors, merge keys ``<<``, explicit tags) keeps PyYAML's
handling, which matches Go's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

try:
    import yaml
    _Base = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML; the sanity import test has none
    yaml = None
    _Base = object

_BOOL = {v: True for v in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")}
_BOOL.update({v: False for v in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")})
_NULL = ("", "~", "null", "Null", "NULL")
_SPECIAL_FLOAT = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
for _sign, _value in (("", math.inf), ("+", math.inf), ("-", -math.inf)):
    for _word in (".inf", ".Inf", ".INF"):
        _SPECIAL_FLOAT[_sign + _word] = _value
# go-yaml v2's yamlStyleFloat, and the start of its timestamp formats (kept as text when decoded
# into an interface{}, which is what a manifest is).
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?$")
# Go's strconv.ParseInt(s, 0, 64) after go-yaml removed every underscore.
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")

_TAG = "tag:yaml.org,2002:"
_GO_SCALAR = "tag:homelab.observability,go:scalar"


def _go_int(text):
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if len(body) > 1 and body[0] == "0" and body[1] in "xXoObB":
        return sign * int(body[2:], {"x": 16, "o": 8, "b": 2}[body[1].lower()])
    if len(body) > 1 and body[0] == "0":
        return sign * int(body, 8)
    return sign * int(body)


def resolve_plain(text):
    """The value go-yaml v2 gives an unquoted, untagged scalar."""
    if text in _BOOL:
        return _BOOL[text]
    if text in _NULL:
        return None
    if text in _SPECIAL_FLOAT:
        return _SPECIAL_FLOAT[text]
    first = text[0]
    if first == ".":
        return float(text) if _FLOAT.match(text) else text
    if first not in "+-0123456789":
        return text
    if _TIMESTAMP.match(text):
        return text
    plain = text.replace("_", "")
    if _GO_INT.match(plain):
        value = _go_int(plain)
        if -(2 ** 63) <= value < 2 ** 64:
            return value
    if _FLOAT.match(plain):
        return float(plain)
    if plain.startswith(("0b", "-0b")) and re.match(r"^-?0b[01]+$", plain):
        return _go_int(plain)
    return text


def _key(value):
    """sigs.k8s.io/yaml turns non-string map keys into their JSON text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


class GoLoader(_Base):
    """PyYAML's (C) safe loader with go-yaml v2's resolution of plain scalars."""

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0]:
            return _TAG + "merge" if value == "<<" else _GO_SCALAR
        return super(GoLoader, self).resolve(kind, value, implicit)

    def construct_go_scalar(self, node):
        return resolve_plain(node.value)

    def construct_unknown(self, tag_suffix, node):
        """A local tag (``!foo``) means nothing to Go's decoder: the value is read as untagged."""
        if isinstance(node, yaml.ScalarNode):
            return node.value
        if isinstance(node, yaml.SequenceNode):
            return self.construct_sequence(node, deep=True)
        return self.construct_mapping(node, deep=True)

    def construct_go_mapping(self, node):
        # Keys are turned into text before they meet in a dict: in Python True == 1, in Go not.
        self.flatten_mapping(node)
        mapping = {}
        for key_node, value_node in node.value:
            mapping[_key(self.construct_object(key_node, deep=True))] = self.construct_object(value_node, deep=True)
        return mapping

    def construct_timestamp_text(self, node):
        return node.value

    def construct_binary_text(self, node):
        """Go decodes ``!!binary`` into a string of the decoded bytes."""
        return self.construct_yaml_binary(node).decode("utf-8", "replace")


if yaml is not None:
    GoLoader.add_constructor(_GO_SCALAR, GoLoader.construct_go_scalar)
    GoLoader.add_constructor(_TAG + "map", GoLoader.construct_go_mapping)
    GoLoader.add_constructor(_TAG + "timestamp", GoLoader.construct_timestamp_text)
    GoLoader.add_constructor(_TAG + "binary", GoLoader.construct_binary_text)
    GoLoader.add_multi_constructor("!", GoLoader.construct_unknown)


def load_all(text):
    """Every document of ``text`` (a str or a file), as helm reads them; raises yaml.YAMLError."""
    return list(yaml.load_all(text, Loader=GoLoader))


def load(text):
    return yaml.load(text, Loader=GoLoader)
