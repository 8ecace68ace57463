# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML as the kube-apiserver reads a file it is given, and a renderer no scalar of which changes type.

The apiserver turns a YAML file into JSON with sigs.k8s.io/yaml, which decodes with a go-yaml v2
fork into ``interface{}`` and then decodes the JSON into the typed struct. go-yaml v2 resolves
plain scalars by YAML 1.1 rules, wider than PyYAML's: ``y``/``n``/``on``/``off`` are booleans,
``0o17``, ``017``, ``0b101`` and ``1_000`` are integers, ``1e3`` is a float. A string field that
receives one of them makes the apiserver refuse the file (``cannot unmarshal bool into ... of type
string``). So:

* ``go_load`` reads YAML the way go-yaml v2 does into ``interface{}`` (timestamps stay strings,
  non-string map keys become strings as sigs.k8s.io/yaml converts them), for the checks and tests;
* ``render`` writes every string double-quoted, so no resolver of any YAML version can take one
  for anything else; only booleans, integers and null are plain.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_YAML = False

# go-yaml v2 resolve.go: the words it maps to a value, whatever the field type.
_WORDS = {}
for _value, _words in (
    (True, ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")),
    (False, ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")),
    (None, ("", "~", "null", "Null", "NULL")),
    (float("nan"), (".nan", ".NaN", ".NAN")),
    (float("inf"), (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")),
    (float("-inf"), ("-.inf", "-.Inf", "-.INF")),
):
    for _word in _words:
        _WORDS[_word] = _value

_YAML_STYLE_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")
_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT64_MAX = (1 << 64) - 1


def _go_parse_int(text):
    """strconv.ParseInt(text, 0, 64) then ParseUint: the value, or None when Go refuses it."""
    sign = 1
    body = text
    if body[:1] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    base, digits = 10, body
    if len(body) > 1 and body[0] == "0":
        prefix = body[1].lower()
        base, digits = {"x": (16, body[2:]), "o": (8, body[2:]), "b": (2, body[2:])}.get(prefix, (8, body[1:]))
    if not digits or not all(c in "0123456789abcdef"[:base] for c in digits.lower()):
        return None
    value = sign * int(digits, base)
    if _INT64[0] <= value <= _INT64[1] or (sign > 0 and value <= _UINT64_MAX):
        return value
    return None


def resolve_plain(text):
    """The value go-yaml v2 gives a plain (unquoted, untagged) scalar decoded into interface{}."""
    if text in _WORDS:
        return _WORDS[text]
    first = text[:1]
    if first == ".":
        return float(text) if _DOT_FLOAT.match(text) else text
    if first and first in "+-0123456789":
        # A timestamp (2001-12-14) is kept as the string it was when the target is interface{}.
        plain = text.replace("_", "")
        value = _go_parse_int(plain)
        if value is not None:
            return value
        if _YAML_STYLE_FLOAT.match(plain):
            value = float(plain)
            # Go's ParseFloat reports 1e999 out of range and go-yaml then keeps the string.
            return text if math.isinf(value) else value
        for prefix, sign in (("0b", 1), ("-0b", -1)):
            if plain.startswith(prefix) and plain[len(prefix):] and set(plain[len(prefix):]) <= set("01"):
                return sign * int(plain[len(prefix):], 2)
    return text


def _json_key(key):
    """sigs.k8s.io/yaml turns non-string keys into the strings JSON needs."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return repr(key)
    return str(key)


if HAS_YAML:

    class GoYamlLoader(yaml.SafeLoader):
        """PyYAML's safe loader with go-yaml v2's resolution of plain scalars."""

        def construct_object(self, node, deep=False):
            # With no implicit resolvers every untagged scalar is tagged str; the plain ones are
            # resolved here as go-yaml does, the quoted ones stay strings.
            if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str" and node.style is None:
                return resolve_plain(node.value)
            return super(GoYamlLoader, self).construct_object(node, deep=deep)

        def construct_mapping(self, node, deep=False):
            # Key by key: a Python dict would merge the keys True and 1 before they are converted.
            mapping = {}
            for key_node, value_node in node.value:
                key = _json_key(self.construct_object(key_node, deep=True))
                mapping[key] = self.construct_object(value_node, deep=True)
            return mapping

    # No PyYAML resolution (its YAML 1.1 subset misses y/n/on/off, 0o17, 1e3): construct_object does it.
    GoYamlLoader.yaml_implicit_resolvers = {}
    GoYamlLoader.add_constructor("tag:yaml.org,2002:map", GoYamlLoader.construct_mapping)


def go_load(text):
    """``text`` decoded as the apiserver decodes a YAML file into interface{}."""
    return yaml.load(text, Loader=GoYamlLoader)  # noqa: S506 - a SafeLoader subclass


# Characters YAML lets stand as they are inside a double-quoted scalar. Everything else, and the
# YAML 1.1 line breaks NEL, LS and PS that a reader would fold, is written as an escape.
_PRINTABLE = re.compile("[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def quote(text):
    """``text`` as a double-quoted YAML scalar that every YAML reader loads back as this string."""
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _PRINTABLE.match(char):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append("\\x%02x" % ord(char))
        elif ord(char) <= 0xFFFF:
            out.append("\\u%04x" % ord(char))
        else:
            out.append("\\U%08x" % ord(char))
    out.append('"')
    return "".join(out)


# A field name such as omitStages stays plain; any key that any YAML reader could resolve is quoted.
_PLAIN_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*$")
_WORDS_LOWER = frozenset(w.lower() for w in _WORDS)


def _key(key):
    if not isinstance(key, str):
        raise TypeError("mapping keys must be strings; got %r" % (key,))
    if _PLAIN_KEY.match(key) and key.lower() not in _WORDS_LOWER:
        return key
    return quote(key)


def _scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # only in a policy written with validate: false
        if math.isnan(value):
            return ".nan"
        return repr(value) if not math.isinf(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, str):
        return quote(value)
    raise TypeError("cannot render %s %r: only strings, numbers, booleans and null" % (type(value).__name__, value))


def _lines(value, indent):
    pad = " " * indent
    if isinstance(value, dict) and value:
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                yield "%s%s:" % (pad, _key(key))
                yield from _lines(item, indent + 2)
            else:
                yield "%s%s: %s" % (pad, _key(key), _flow_empty(item))
    elif isinstance(value, list) and value:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = list(_lines(item, indent + 2))
                yield pad + "- " + inner[0][indent + 2:]
                yield from inner[1:]
            else:
                yield "%s- %s" % (pad, _flow_empty(item))
    else:
        yield pad + _flow_empty(value)


def _flow_empty(value):
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def render(obj):
    """Block-style YAML of ``obj`` (dicts keep their order), every string double-quoted."""
    return "\n".join(_lines(obj, 0)) + "\n"
