"""YAML as helm reads it: go-yaml v2's resolution of plain scalars, PyYAML's everything else."""

import math

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.kube import goyaml


@pytest.mark.parametrize(
    "text, expected",
    [
        ("=", "="),  # PyYAML's safe loader refuses this one ("value" tag)
        ("y", True), ("Y", True), ("yes", True), ("On", True), ("TRUE", True),
        ("n", False), ("N", False), ("no", False), ("off", False), ("False", False),
        ("~", None), ("null", None), ("", None),
        ("1e3", 1000.0), ("-1.5E2", -150.0), (".5", 0.5), ("1.", 1.0),
        ("0o17", 15), ("017", 15), ("0x1F", 31), ("0b101", 5), ("-0b101", -5), ("1_000", 1000), ("+12", 12),
        ("08", 8.0),  # not an octal int: Go's ParseFloat takes it
        ("99999999999999999999", 1e20),
        ("1:20", "1:20"),  # PyYAML: sexagesimal 80
        ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"), ("2026-12-01", "2026-12-01"),
        ("y2", "y2"), ("1.2.3", "1.2.3"), ("-x", "-x"), ("0.0.0.0/0", "0.0.0.0/0"),
    ],
)
def test_plain_scalars_resolve_as_in_go(text, expected):
    assert goyaml.load("v: %s\n" % text)["v"] == expected


def test_special_floats():
    doc = goyaml.load("a: .inf\nb: -.Inf\nc: .nan\n")
    assert doc["a"] == math.inf and doc["b"] == -math.inf and math.isnan(doc["c"])


def test_quoted_and_explicitly_tagged_scalars_stay_strings():
    doc = goyaml.load("a: \"y\"\nb: '1e3'\nc: !!str 12\nd: \"=\"\n")
    assert doc == {"a": "y", "b": "1e3", "c": "12", "d": "="}


def test_merge_keys_anchors_and_aliases():
    docs = goyaml.load_all("base: &b {x: 1, z: 0}\nm:\n  <<: *b\n  z: 3\nl: [*b]\n---\nkind: X\n")
    assert docs[0]["m"] == {"x": 1, "z": 3}
    assert docs[0]["l"] == [{"x": 1, "z": 0}]
    assert docs[1] == {"kind": "X"}


def test_local_tags_are_read_as_untagged_and_binary_as_text():
    doc = goyaml.load("a: !foo bar\nb: !seq [1]\nc: !map {k: v}\nd: !!binary aGVsbG8=\n")
    assert doc == {"a": "bar", "b": [1], "c": {"k": "v"}, "d": "hello"}


def test_non_string_keys_become_their_json_text():
    assert goyaml.load("1: a\ntrue: b\nn: c\n") == {"1": "a", "true": "b", "false": "c"}


def test_the_real_crd_quirk_parses():
    # The shape of the line that stopped the first wave on prometheus-operator-crds 31.0.1.
    text = "enum:\n  - =\n  - '!='\n  - =~\n"
    assert goyaml.load(text) == {"enum": ["=", "!=", "=~"]}
    with pytest.raises(yaml.YAMLError):
        list(yaml.safe_load_all(text))


def test_invalid_yaml_raises_yaml_error():
    with pytest.raises(yaml.YAMLError):
        goyaml.load_all("a: [1\n")
